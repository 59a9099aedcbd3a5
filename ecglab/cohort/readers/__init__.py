"""Readers of the raw datasets users bring (WFDB records, ...)."""
