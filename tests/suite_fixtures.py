"""The tiny task spec the suite, search and worker tests share: one 60-min forecasting task on lead II at
100 Hz over 5-s crops, with low positive/negative minimums so that a cohort of a few dozen patients keeps
targets."""


def forecast_task_yaml(name: str) -> str:
    """A task spec file's text holding one forecasting task called ``name``."""
    return f"""
defaults:
  version: "1"
  kind: forecast
  horizon_min: 60
  panel: {{kind: anyecg_lab, min_positives: 3, min_negatives: 3, min_positive_patients: 1,
    min_negative_patients: 1}}
  input: {{leads: [II], fs: 100, seconds: 5}}
  eval: {{max_segments: null, crops: 1}}
  tabular: true
tasks:
  - name: {name}
"""
