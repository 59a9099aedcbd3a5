"""Stage 2: tasks turn a cohort store into anchors, labels, input segments and patient splits."""
