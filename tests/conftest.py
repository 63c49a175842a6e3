"""Shared test set-up. Fixtures live in one ``fixtures_*.py`` module per concern, loaded here."""

from __future__ import annotations

import os

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

pytest_plugins = [
    "tests.fixtures_db",
    "tests.fixtures_rasa",
    "tests.fixtures_chat",
    "tests.fixtures_browser",
    "tests.fixtures_proc",
]


def require(condition: bool, reason: str) -> None:
    """Skip a test whose external dependency is missing, except in CI where it must run: fail there."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required in CI: {reason}", pytrace=False)
    pytest.skip(reason)
