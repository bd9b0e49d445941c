"""Build the TUI over a FakeCore with a frozen clock, so every frame is reproducible."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace

from textual.pilot import Pilot

from hermes_top.core.model import Snapshot
from hermes_top.testing import DEMO_NOW, FakeCore, demo_core, demo_fd_samples
from hermes_top.tui.app import HermesTopApp
from hermes_top.view.history import FdHistory

Scenario = Callable[[HermesTopApp, Pilot[None]], Awaitable[None]]


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


def drive(app: HermesTopApp, scenario: Scenario, size: tuple[int, int] = (80, 24)) -> None:
    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            await scenario(app, pilot)

    asyncio.run(main())


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


def row_keys(app: HermesTopApp) -> list[str]:
    from hermes_top.tui.widgets.process_table import ProcessTable

    table = app.query_one(ProcessTable)
    return table.row_keys


def notes(app: HermesTopApp) -> str:
    return "\n".join(str(n.message) for n in app._notifications)


def with_cpu(snapshot: Snapshot, seconds: Mapping[int, float], *, later: float = 0.0) -> Snapshot:
    """``snapshot`` ``later`` seconds on, each process carrying ``seconds[pid]`` of CPU."""
    procs = tuple(replace(p, cpu_seconds=seconds.get(p.pid, 0.0)) for p in snapshot.processes)
    return replace(snapshot, processes=procs, taken_at=snapshot.taken_at + later)


def screen_text(app: HermesTopApp) -> str:
    """The screen as plain text, one line per row (what a user reads, dialogs included)."""
    import io

    from rich.console import Console

    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True)
    console.print(
        app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    )
    return console.export_text()
