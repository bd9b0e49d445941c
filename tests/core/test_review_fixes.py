"""Regressions found in review: bad --grace, exit codes, exec'd forks, journal threads."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from hermes_top.core.engine import Core
from hermes_top.core.journal import Journal, read_journal
from hermes_top.core.model import Outcome, ProcessInfo, Role
from hermes_top.core.procfs import read_proc
from hermes_top.sim import Simulation
from tests.core.helpers import hermes_top, sim_env, wait_for


@pytest.mark.parametrize("grace", ["nan", "inf", "-1", "99999"])
def test_absurd_grace_is_a_usage_error(grace: str, tmp_path: Path) -> None:
    out = hermes_top("reap", "--dry-run", "--grace", grace, state_dir=tmp_path)
    assert out.returncode == 2
    assert "--grace" in out.stderr and "Traceback" not in out.stderr


def test_reap_of_a_zombie_only_is_not_success(sim: Simulation, core: Core, tmp_path: Path) -> None:
    if not sim.has_node:
        pytest.skip("node not on PATH: no zombie tui to make")
    d = sim.start_dashboard(port=9361)
    zombie = sim.zombie_tui(d)
    wait_for(core.scan, lambda s: s.get(zombie) is not None)
    out = hermes_top("reap", "--pid", str(zombie), "--yes", "--json", state_dir=tmp_path)
    report = json.loads(out.stdout)
    assert [r["outcome"] for r in report["results"]] == ["zombie"]
    assert out.returncode == 1  # nothing was reaped


def test_exited_target_still_a_zombie_is_gone_not_changed(sim: Simulation, core: Core) -> None:
    """A pinned process that exited but whose parent has not collected it yet."""
    d = sim.start_dashboard(port=9362)
    tab = sim.open_tab(d, path="attach")
    old = tab.worker_pids[0]
    sim.restart_worker(tab, close_old=False)
    snap = core.scan()
    info = snap.get(old)
    assert info is not None
    # The dashboard never waits for it (our fake dashboard reaps lazily), so it may
    # linger as a zombie: either way the outcome must be "gone", never "changed".
    sim.send_signal(old, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        raw = read_proc(old)
        if raw is None or raw.status == "Z":
            break
        time.sleep(0.02)
    results = core.send_signal([info], signal.SIGTERM).results
    assert [r.outcome for r in results] == [Outcome.GONE]


def test_fork_before_exec_is_not_cached_as_its_parent(
    sim: Simulation, tmp_path: Path, own_children: list[subprocess.Popen[bytes]]
) -> None:
    """python forks python (same name): the child must be seen as what it execs."""
    code = (
        "import os, sys, time\n"
        "time.sleep(0.6)\n"
        "os.execv(sys.executable, [sys.executable, '-m', 'tui_gateway.slash_worker',"
        " '--session-key', '20261127_235959_abcdef'])\n"
    )
    # argv before exec: a hermes CLI invocation (`python -m hermes_cli.main --tui`)
    # wrapped so that it only sleeps and then execs a slash worker.
    script = tmp_path / "hermes_cli" / "main.py"
    script.parent.mkdir()
    script.write_text(code)
    proc = subprocess.Popen(
        [sim.python, str(script), "--tui"],
        env=sim_env(sim),
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
    )
    own_children.append(proc)

    def mine(p: ProcessInfo) -> bool:
        return p.pid == proc.pid

    core = Core(scope=mine, journal=Journal(tmp_path / "j.jsonl"))
    first = core.scan().get(proc.pid)
    assert first is not None and first.role is Role.CLI
    snap = wait_for(
        core.scan, lambda s: (p := s.get(proc.pid)) is not None and p.role is Role.SLASH_WORKER
    )
    after = snap.get(proc.pid)
    assert after is not None and after.role is Role.SLASH_WORKER


def test_concurrent_actions_share_no_journal_fd(
    sim: Simulation, core: Core, journal_path: Path
) -> None:
    d = sim.start_dashboard(port=9363)
    pids = [sim.orphan_worker(d) for _ in range(6)]
    snap = wait_for(core.scan, lambda s: all(s.get(p) for p in pids))
    infos = [snap.get(p) for p in pids]
    errors: list[BaseException] = []

    def act(chunk: list[ProcessInfo | None]) -> None:
        try:
            core.send_signal([i for i in chunk if i is not None], signal.SIGTERM)
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=act, args=([i],)) for i in infos]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    lines = read_journal(journal_path)
    assert sorted(r["pid"] for r in lines if r["event"] == "signal") == sorted(pids)
