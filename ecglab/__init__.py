"""ecglab: which ECG backbone estimates which laboratory abnormality best, and how sure are we?

The stages, in the order of the flow and of the imports: ``cohort`` -> ``tasks`` -> ``backbones`` ->
``bench`` -> ``leaderboards``. ``tasks`` and ``backbones`` know nothing of each other. The modules at this
level (``errors``, ``registry``) import no stage and serve them all.
"""
