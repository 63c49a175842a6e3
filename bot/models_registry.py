"""Imports every module that declares tables, so Base.metadata is complete (Alembic, create_all)."""

from __future__ import annotations

import importlib

MODEL_MODULES = ("bot.models", "handoff.models", "bot.telegram_models", "handoff.volunteer_models")


def import_all_models() -> None:
    for name in MODEL_MODULES:
        importlib.import_module(name)
