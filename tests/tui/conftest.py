"""Fixtures for the TUI tests; helpers live in tui_helpers.py (importable by name)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _no_color_unset(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Textual reads NO_COLOR when the App is built; only the NO_COLOR test sets it.
    monkeypatch.delenv("NO_COLOR", raising=False)
    yield
