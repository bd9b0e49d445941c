"""SVG snapshots of every screen, from FakeCore data and a frozen clock.

Update with `make snapshots-update`, then look at snapshot_report.html before committing.
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot
from tui_helpers import make_app, select_pid, settle

from hermes_top.testing import FakeCore, empty_snapshot


async def _scanned(pilot: Pilot[None]) -> None:
    await settle(pilot)


def _then(*keys: str, pid: int | None = None) -> Any:
    async def run_before(pilot: Pilot[None]) -> None:
        await settle(pilot)
        if pid is not None:
            select_pid(pilot.app, pid)  # type: ignore[arg-type]
            await pilot.pause()
        await pilot.press(*keys)
        await settle(pilot)

    return run_before


def test_main_80x24(snap_compare: Any) -> None:
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=_scanned)


def test_main_120x36(snap_compare: Any) -> None:
    assert snap_compare(make_app(), terminal_size=(120, 36), run_before=_scanned)


def test_reap_dialog(snap_compare: Any) -> None:
    assert snap_compare(make_app(), terminal_size=(100, 30), run_before=_then("R"))


def test_reap_dialog_with_stale_80x24(snap_compare: Any) -> None:
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=_then("R", "s"))


def test_help(snap_compare: Any) -> None:
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=_then("question_mark"))


def test_details_pane(snap_compare: Any) -> None:
    run_before = _then("enter", pid=3001)
    assert snap_compare(make_app(), terminal_size=(100, 30), run_before=run_before)


def test_empty_state(snap_compare: Any) -> None:
    app = make_app(FakeCore([empty_snapshot()]), history=False)
    assert snap_compare(app, terminal_size=(80, 24), run_before=_scanned)


def test_no_color(snap_compare: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app()
    assert app.no_color
    assert snap_compare(app, terminal_size=(80, 24), run_before=_scanned)
