"""SVG snapshots of every screen at 80x24, 120x36 and 60x15, from FakeCore data
and a frozen clock.

Update with `make snapshots-update`, then look at snapshot_report.html (or the
SVGs themselves) before committing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from textual.pilot import Pilot
from tui_helpers import make_app, select_pid, settle

from hermes_top.testing import FakeCore, empty_snapshot

SIZES = [(80, 24), (120, 36), (60, 15)]
SIZE_IDS = ["80x24", "120x36", "60x15"]


def _then(*keys: str, pid: int | None = None, tag: Sequence[int] = ()) -> Any:
    async def run_before(pilot: Pilot[None]) -> None:
        await settle(pilot)
        for p in tag:
            select_pid(pilot.app, p)  # type: ignore[arg-type]
            await pilot.press("space")
        if pid is not None:
            select_pid(pilot.app, pid)  # type: ignore[arg-type]
            await pilot.pause()
        await pilot.press(*keys)
        await settle(pilot)

    return run_before


#: Screen name -> what to do before the picture.
SCREENS: dict[str, Any] = {
    "main": _then(),
    "filter": _then("slash", "w", "o", "r", "k"),
    "reap": _then("R"),
    # A dashboard (warned), another user's worker and a zombie (left out, with why).
    "signal": _then("T", tag=(3001, 3010, 4140, 4100)),
    "signal_menu": _then("k", pid=3003),
    "recover": _then("L", pid=4100),
    "help": _then("question_mark"),
}


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
@pytest.mark.parametrize("screen", list(SCREENS))
def test_screen(snap_compare: Any, screen: str, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(), terminal_size=size, run_before=SCREENS[screen])


def test_filter_kept_after_enter_80x24(snap_compare: Any) -> None:
    run_before = _then("slash", "b", "o", "b", "enter")
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=run_before)


def test_details_low_confidence_80x24(snap_compare: Any) -> None:
    run_before = _then("enter", pid=4170)
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=run_before)


def test_details_dashboard_120x36(snap_compare: Any) -> None:
    run_before = _then("enter", pid=4100)
    assert snap_compare(make_app(), terminal_size=(120, 36), run_before=run_before)


def test_empty_state(snap_compare: Any) -> None:
    app = make_app(FakeCore([empty_snapshot()]), history=False)
    assert snap_compare(app, terminal_size=(80, 24), run_before=_then())


def test_no_color(snap_compare: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app()
    assert app.no_color
    assert snap_compare(app, terminal_size=(80, 24), run_before=_then())


def test_no_color_reap_dialog(snap_compare: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=_then("R"))
