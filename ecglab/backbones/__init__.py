"""Stage 3: backbones map an ECG batch to features; their registry, metadata and conformance suite."""
