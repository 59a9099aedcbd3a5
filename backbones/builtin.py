"""Metadata of the built-in backbones. Importing this module imports no model code."""

from __future__ import annotations

from backbones.registry import BackboneInfo, InputContract

BUILTIN: list[BackboneInfo] = []
