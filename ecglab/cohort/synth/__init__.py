"""The built-in synthetic cohort: realistic ECG with planted lab couplings and null labs."""

from ecglab.cohort.synth.cohort import SynthConfig, build_synthetic_cohort, simulate_patient

__all__ = ["SynthConfig", "build_synthetic_cohort", "simulate_patient"]
