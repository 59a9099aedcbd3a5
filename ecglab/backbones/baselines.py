"""Baselines every benchmark needs: a backbone is only interesting where it beats these.

- ``tabular``: demographics and vitals only (the task's side inputs), logistic regression or gradient
  boosting, one classifier per target;
- ``ecg_features``: classical ECG features from a simple delineation of one lead (heart rate, RR variability,
  R and T amplitude, QRS width, QT, QTc; see ecglab.backbones.ecg_features) and a logistic regression per
  target.

Both are scikit-learn models trained on the observed labels of each target only (label -1 is masked, never
turned into 0). A target whose training labels have a single class cannot be fitted: it is reported in
``untrainable`` and scored with that class's training prevalence, so its AUROC is exactly 0.5.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from ecglab.backbones.ecg_features import FEATURES, ecg_features
from ecglab.backbones.errors import BadOption


def _classifier(model: str, c: float, seed: int) -> Pipeline:
    if model == "logistic":
        estimator = LogisticRegression(C=c, max_iter=2000)
    elif model == "gbm":
        estimator = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, random_state=seed)
    else:
        raise BadOption(f"model must be 'logistic' or 'gbm', got {model!r}")
    return make_pipeline(
        SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
        StandardScaler(),
        estimator,
    )


@dataclass
class PerTargetClassifier:
    """One scikit-learn classifier per target, each fitted on the rows where that target is observed."""

    model: str = "logistic"
    c: float = 1.0
    seed: int = 0
    fitted: list[Pipeline | float] = field(default_factory=list)
    untrainable: list[int] = field(default_factory=list)

    def fit(self, features: np.ndarray, labels: np.ndarray) -> PerTargetClassifier:
        """``labels``: rows x targets in {1, 0, -1}; -1 rows are left out of that target's fit."""
        self.fitted, self.untrainable = [], []
        for j in range(labels.shape[1]):
            observed = labels[:, j] != -1
            y = labels[observed, j]
            if len(np.unique(y)) < 2:
                self.untrainable.append(j)
                self.fitted.append(float(y.mean()) if len(y) else 0.5)
                continue
            self.fitted.append(_classifier(self.model, self.c, self.seed).fit(features[observed], y))
        return self

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Probability of the positive class, rows x targets."""
        if not self.fitted:
            raise RuntimeError("fit the classifier before predicting")
        columns = [
            np.full(len(features), model) if isinstance(model, float) else model.predict_proba(features)[:, 1]
            for model in self.fitted
        ]
        return np.stack(columns, axis=1)


@dataclass
class EcgFeatureExtractor:
    """Classical features of one lead, picked by name from the batch's leads."""

    lead: str = "II"
    fs: float = 500.0

    @property
    def names(self) -> tuple[str, ...]:
        return FEATURES

    def __call__(self, waveforms: np.ndarray, leads: Sequence[str]) -> np.ndarray:
        if self.lead not in leads:
            raise ValueError(f"the ECG-feature baseline reads lead {self.lead}; the batch has {list(leads)}")
        return ecg_features(waveforms[:, list(leads).index(self.lead), :], self.fs).to_numpy(np.float64)


def build_tabular(model: str = "logistic", c: float = 1.0, seed: int = 0) -> PerTargetClassifier:
    return PerTargetClassifier(model=model, c=c, seed=seed)


def build_ecg_features(
    model: str = "logistic", c: float = 1.0, lead: str = "II", fs: float = 500.0, seed: int = 0
) -> tuple[EcgFeatureExtractor, PerTargetClassifier]:
    return EcgFeatureExtractor(lead=lead, fs=fs), PerTargetClassifier(model=model, c=c, seed=seed)


def search_space(trial: object) -> dict[str, object]:
    return {
        "model": trial.suggest_categorical("model", ["logistic", "gbm"]),
        "c": trial.suggest_float("c", 1e-3, 1e2, log=True),
    }
