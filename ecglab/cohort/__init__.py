"""Stage 1: cohort stores, the readers of real datasets, and the synthetic cohort."""
