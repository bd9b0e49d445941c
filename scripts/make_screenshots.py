"""Write screenshots/*.svg from FakeCore demo data (no real processes, frozen clock).

python scripts/make_screenshots.py [OUT_DIR]
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from hermes_top.testing import DEMO_NOW, demo_core, demo_fd_samples
from hermes_top.tui.app import HermesTopApp
from hermes_top.tui.widgets.process_table import ProcessTable
from hermes_top.view.history import FdHistory

SIZE = (100, 30)
#: file name -> (pid to select first or None, keys to press)
SHOTS: dict[str, tuple[int | None, Sequence[str]]] = {
    "main.svg": (None, ()),
    "reap-dialog.svg": (None, ("R",)),
    "details.svg": (4170, ("enter",)),
    "recover-dialog.svg": (4100, ("L",)),
    "signal-menu.svg": (3003, ("k",)),
}


def build_app() -> HermesTopApp:
    history = FdHistory()
    for pid, samples in demo_fd_samples().items():
        history.extend(pid, samples)
    app = HermesTopApp(demo_core(), clock=lambda: DEMO_NOW, history=history)
    app.animation_level = "none"
    app.cursor_blink = False
    return app


async def shoot(path: Path, pid: int | None, keys: Sequence[str]) -> None:
    app = build_app()
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        if pid is not None:
            table = app.query_one(ProcessTable)
            table.move_cursor(row=table.get_row_index(str(pid)), animate=False)
            await pilot.pause()
        await pilot.press(*keys)
        await app.workers.wait_for_complete()
        await pilot.pause()
        path.write_text(app.export_screenshot(title="hermes-top"), encoding="utf-8")


def main(argv: Sequence[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    for name, (pid, keys) in SHOTS.items():
        asyncio.run(shoot(out / name, pid, keys))
        print(out / name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
