"""Control characters from other processes never reach the terminal raw.

Before: argv went to the TUI, `list`, the reap plan and the dialogs as it was,
so an OSC 52 sequence could write the user's clipboard, a newline could forge
a row and cursor moves could hide a target in a confirmation.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hermes_top.commands import procs
from hermes_top.core.engine import Core
from hermes_top.core.escape import escape_control
from hermes_top.core.journal import Journal
from hermes_top.core.model import ProcessInfo, Snapshot, State
from hermes_top.sim import Simulation
from hermes_top.sim.tracking import reap_pids, start_ticks
from tests.core.helpers import sim_env, wait_for
from tests.harness import REGISTRY, is_running, kill_exact

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")

#: A comm (15 bytes at most) that would write the clipboard if printed raw.
HOSTILE_COMM = b"\x1b]52;c;cHduZWQ"
#: A --model value: clear screen, home, a forged row, a bidi override, bad UTF-8.
HOSTILE_MODEL = b"\x1b[2J\x1b[H\n   4242 worker  live\xe2\x80\xae\xff\x07"
#: A session key that is not one: kept visible, but escaped.
HOSTILE_KEY = "20260101_000000_a1b2c3\r\x1b[1A\x1b[2Kpwned"

SPAWN = """
import ctypes, subprocess, sys, time
ctypes.CDLL(None).prctl(15, sys.argv[1].encode('latin-1'), 0, 0, 0)
child = subprocess.Popen([a.encode('utf-8', 'surrogateescape') for a in sys.argv[2:]],
                         stdin=subprocess.PIPE)
print(child.pid, flush=True)
time.sleep(600)
"""


def clean(text: str) -> bool:
    """No character a terminal would act on, other than line breaks."""
    return all(ch == "\n" or ch.isprintable() for ch in text)


@pytest.fixture
def hostile(sim: Simulation) -> Iterator[tuple[int, int]]:
    """(parent pid, worker pid): a worker with hostile argv under a hostile comm."""
    env = sim_env(sim)
    worker = [
        sim.python,
        "-m",
        "tui_gateway.slash_worker",
        "--session-key",
        HOSTILE_KEY,
        "--model=" + HOSTILE_MODEL.decode("utf-8", "surrogateescape"),
    ]
    parent = subprocess.Popen(
        [sys.executable, "-c", SPAWN, HOSTILE_COMM.decode("latin-1"), *worker],
        env=env,
        cwd=sim.root,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    known: list[tuple[int, int]] = []
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        for pid in (parent.pid, child):
            st = start_ticks(pid)
            assert st is not None
            REGISTRY.register_identity(pid, st, "hostile argv")
            known.append((pid, st))
        yield parent.pid, child
    finally:
        for pid, st in reversed(known):
            kill_exact(pid, st)
        parent.wait(timeout=10)
        reap_pids(pid for pid, _ in known)  # the worker comes back to us (subreaper)


def _snapshot(core: Core, worker: int) -> Snapshot:
    snap = wait_for(core.scan, lambda s: s.get(worker) is not None)
    assert snap.get(worker) is not None
    return snap


def test_every_renderer_escapes_process_data(
    sim: Simulation, hostile: tuple[int, int], tmp_path: Path
) -> None:
    _, worker = hostile
    journal = tmp_path / "j.jsonl"
    core = Core(scope=lambda p: p.pid == worker, journal=Journal(journal))
    snap = _snapshot(core, worker)
    info = snap.get(worker)
    assert info is not None and info.state is State.ORPHAN
    assert escape_control(HOSTILE_COMM.decode()) in info.reason  # the parent's comm, escaped
    shown = " ".join(info.cmdline)
    assert "\\e[2J" in shown and "\\xff" in shown and "\\u202e" in shown and "\\n" in shown

    text = procs.render_text(snap)
    assert clean(text)
    assert text.count("\n") == procs.render_text(_blank(snap)).count("\n"), "a row was forged"
    assert clean(json.dumps(snap.to_json(), ensure_ascii=False))

    out = io.StringIO()
    excluded = [(info, "because")]
    procs.print_plan([info], excluded, out)
    assert clean(out.getvalue())
    report = core.reap([info], grace_s=0.5)
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        procs.print_report(report)
    assert clean(printed.getvalue())
    raw = journal.read_text(encoding="utf-8", errors="surrogateescape")
    assert all(ch == "\n" or 0x20 <= ord(ch) < 0x7F for ch in raw), "journal is plain ASCII"
    core.close()


def _blank(snap: Snapshot) -> Snapshot:
    """The same snapshot with harmless argv: the line count to compare with."""
    import dataclasses

    procs_ = tuple(
        dataclasses.replace(p, cmdline=("x",), reason="r", session_key="k") for p in snap.processes
    )
    return dataclasses.replace(snap, processes=procs_)


def test_the_tui_escapes_process_data(
    sim: Simulation, hostile: tuple[int, int], tmp_path: Path
) -> None:
    from hermes_top.tui.app import HermesTopApp
    from hermes_top.tui.screens.confirm import ConfirmDialog, target_lines
    from hermes_top.tui.widgets.details import render_details
    from hermes_top.tui.widgets.process_table import ProcessTable

    _, worker = hostile
    core = Core(scope=lambda p: p.pid == worker, journal=Journal(tmp_path / "j.jsonl"))
    snap = _snapshot(core, worker)
    info = snap.get(worker)
    assert isinstance(info, ProcessInfo)
    assert clean(render_details(info, snap, core.fd_breakdown(worker)).plain)
    assert clean(target_lines([info], 200).plain)
    app = HermesTopApp(core, interval_s=60)
    app.animation_level = "none"

    async def main() -> None:
        async with app.run_test(size=(120, 30)) as pilot:
            table = app.query_one(ProcessTable)
            for _ in range(100):
                await pilot.pause()
                if str(worker) in table.row_keys:
                    break
                await asyncio.sleep(0.05)
            row = table.get_row_at(table.get_row_index(str(worker)))
            assert all(clean(cell.plain) for cell in row)
            table.move_cursor(row=table.get_row_index(str(worker)), animate=False)
            await pilot.press("enter")  # details pane
            await pilot.press("T")  # the confirmation dialog
            await pilot.pause()
            assert isinstance(app.screen, ConfirmDialog)
            screen = app.export_screenshot()
            assert "\x1b" not in screen and "\x07" not in screen and "\u202e" not in screen
            await pilot.press("n")

    asyncio.run(main())
    core.close()
    assert is_running(worker), "the dialog was cancelled: nothing may have been sent"
