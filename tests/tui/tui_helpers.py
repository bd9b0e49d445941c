"""Build the TUI over a FakeCore with a frozen clock, so every frame is reproducible."""

from __future__ import annotations

from textual.pilot import Pilot

from hermes_top.testing import DEMO_NOW, FakeCore, demo_core, demo_fd_samples
from hermes_top.tui.app import HermesTopApp
from hermes_top.tui.history import FdHistory


def make_app(
    core: FakeCore | None = None, *, readonly: bool = False, history: bool = True
) -> HermesTopApp:
    fd_history = FdHistory()
    if history:
        for pid, samples in demo_fd_samples().items():
            fd_history.extend(pid, samples)
    app = HermesTopApp(
        core if core is not None else demo_core(),
        readonly=readonly,
        clock=lambda: DEMO_NOW,
        history=fd_history,
    )
    app.animation_level = "none"
    app.cursor_blink = False
    return app


async def settle(pilot: Pilot[None]) -> None:
    """Wait for scans/actions running in threads, then for the UI to process their results."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def select_pid(app: HermesTopApp, pid: int | str) -> None:
    from hermes_top.tui.widgets.process_table import ProcessTable

    table = app.query_one(ProcessTable)
    table.move_cursor(row=table.get_row_index(str(pid)), animate=False)
