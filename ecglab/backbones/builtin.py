"""Metadata of the built-in backbones. Importing this module imports no model code. Parameter counts are
computed from the presets (:mod:`ecglab.backbones.counting`), never typed here."""

from __future__ import annotations

from ecglab.backbones.info import BackboneInfo, FineTuneLayout, InputContract

_ECGFOUNDER_TINY = {
    "base_filters": 16,
    "filter_list": (16, 32, 32, 64),
    "m_blocks_list": (1, 1, 1, 1),
    "kernel_size": 16,
    "groups_width": 16,
}

BUILTIN: list[BackboneInfo] = [
    BackboneInfo(
        name="ecgfounder",
        factory="ecglab.backbones.ecgfounder.model:build",
        summary="ECGFounder Net1D (RegNet-style 1-D CNN), loads the released checkpoints strictly",
        input=InputContract(leads=None, fs=500.0, seconds=10.0, normalisation="zscore"),
        presets={
            "full": {"in_channels": 12},
            "tiny": {"in_channels": 12, **_ECGFOUNDER_TINY},
            "full_1lead": {"in_channels": 1},
            "tiny_1lead": {"in_channels": 1, **_ECGFOUNDER_TINY},
        },
        licence="MIT (ECGFounder code and weights, PKUDigitalHealth/ECGFounder)",
        reference="Li et al., ECGFounder: an ECG foundation model, NEJM AI 2025",
        pretraining_data=("Harvard-Emory ECG Database (HEEDB)",),
        search_space="ecglab.backbones.ecgfounder.model:search_space",
        expected_leads="ecglab.backbones.ecgfounder.model:released_leads",
        layout=FineTuneLayout(stem=("first_conv", "first_bn"), stages="stage_list"),
    ),
    BackboneInfo(
        name="s4",
        factory="ecglab.backbones.s4:build",
        summary="bidirectional S4D state-space model (CardioLab's encoder), plain PyTorch",
        input=InputContract(leads=None, fs=100.0, seconds=2.5, normalisation="zscore"),
        presets={
            "full": {"in_channels": 12, "d_model": 512, "n_layers": 4, "d_state": 8, "dropout": 0.2},
            "tiny": {"in_channels": 12, "d_model": 32, "n_layers": 2, "d_state": 8, "dropout": 0.2},
        },
        licence="Apache-2.0 (recipe of state-spaces/s4 s4d.py)",
        reference="Gu et al., On the parameterization and initialization of diagonal SSMs, 2022; "
        "Alcaraz et al., CardioLab, 2024",
        search_space="ecglab.backbones.s4:search_space",
    ),
    BackboneInfo(
        name="transformer",
        factory="ecglab.backbones.transformer:build",
        summary="1-D patch transformer (pre-norm, scaled dot-product attention, mean or CLS pooling)",
        input=InputContract(leads=None, fs=500.0, seconds=10.0, normalisation="zscore"),
        presets={
            "full": {"in_channels": 1, "d_model": 256, "depth": 6, "heads": 8, "patch": 50},
            "tiny": {"in_channels": 1, "d_model": 32, "depth": 2, "heads": 4, "patch": 50},
        },
        licence="Apache-2.0 (this project)",
        reference="Dosovitskiy et al., An image is worth 16x16 words, 2021 (patch embedding, applied in 1-D)",
        search_space="ecglab.backbones.transformer:search_space",
    ),
    BackboneInfo(
        name="timm",
        factory="ecglab.backbones.timm_adapter:build",
        summary="any timm 2-D image model on the (leads x time) grid (optional extra: ecglab[timm])",
        input=InputContract(leads=None, fs=500.0, seconds=10.0, normalisation="zscore"),
        presets={"full": {"model_name": "resnet18"}, "tiny": {"model_name": "resnet18"}},
        licence="Apache-2.0 (timm); the chosen model's own licence applies",
        reference="Wightman, PyTorch Image Models (timm)",
    ),
    BackboneInfo(
        name="tabular",
        factory="ecglab.backbones.baselines:build_tabular",
        summary="baseline: demographics and vitals only (logistic regression or gradient boosting)",
        input=InputContract(leads=(), fs=0.0, seconds=None),
        presets={"full": {"model": "gbm"}, "tiny": {"model": "logistic"}},
        licence="Apache-2.0 (this project; scikit-learn BSD-3)",
        reference="CardioLab's tabular inputs: age, sex, vitals within +/-30 min",
        search_space="ecglab.backbones.baselines:search_space",
        kind="baseline",
        baseline_input="tabular",
    ),
    BackboneInfo(
        name="ecg_features",
        factory="ecglab.backbones.baselines:build_ecg_features",
        summary="baseline: heart rate, QRS, QT, T amplitude from a simple delineation + logistic regression",
        input=InputContract(leads=("II",), fs=500.0, seconds=10.0),
        presets={"full": {"model": "logistic"}, "tiny": {"model": "logistic"}},
        licence="Apache-2.0 (this project; scikit-learn BSD-3)",
        reference="classical ECG intervals; e.g. QTc and T-wave amplitude in dyskalaemia",
        search_space="ecglab.backbones.baselines:search_space",
        kind="baseline",
        baseline_input="ecg_features",
    ),
]
