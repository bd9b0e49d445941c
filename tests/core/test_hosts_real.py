"""Gateway and plain-CLI hosts keep their workers live; their death orphans them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import textwrap
from pathlib import Path

import pytest

from hermes_top.core.engine import Core
from hermes_top.core.journal import Journal
from hermes_top.core.model import ProcessInfo, Role, State
from hermes_top.core.procfs import read_proc
from hermes_top.sim import Simulation
from tests.core.helpers import sim_env, wait_for

# A stand-in hermes CLI run as a script (`python <dir>/hermes_cli/main.py gateway run`):
# it starts one slash worker with pipes, as the real gateway does, and reports its PID.
HOST_SCRIPT = textwrap.dedent(
    """
    import json, subprocess, sys, time
    worker = subprocess.Popen(
        [sys.executable, "-m", "tui_gateway.slash_worker", "--session-key",
         "20261127_235900_c0ffee"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    worker.stdout.readline()  # the worker's ready line
    print(json.dumps({"worker": worker.pid}), flush=True)
    time.sleep(600)
    """
)


@pytest.mark.parametrize(
    ("words", "role"),
    [(["gateway", "run", "--replace"], Role.GATEWAY), (["--tui"], Role.CLI)],
)
def test_other_hosts(sim: Simulation, tmp_path: Path, words: list[str], role: Role) -> None:
    script = tmp_path / "hermes_cli" / "main.py"
    script.parent.mkdir()
    script.write_text(HOST_SCRIPT)
    host = subprocess.Popen(
        [sim.python, str(script), *words],
        env=sim_env(sim),
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    worker_pid: int | None = None
    try:
        assert host.stdout is not None
        worker_pid = json.loads(host.stdout.readline())["worker"]

        def mine(p: ProcessInfo) -> bool:
            return p.pid in (host.pid, worker_pid)

        core = Core(scope=mine, journal=Journal(tmp_path / "j.jsonl"))
        snap = core.scan()
        h, w = snap.get(host.pid), snap.get(worker_pid)
        assert h is not None and w is not None
        assert h.role is role and h.state is State.LIVE
        assert w.state is State.LIVE and w.host_pid == host.pid and w.dashboard_pid is None
        host.kill()
        host.wait()
        snap = wait_for(
            core.scan,
            lambda s: (p := s.get(worker_pid or 0)) is not None and p.state is State.ORPHAN,
        )
        w = snap.get(worker_pid)
        assert w is not None and w.state is State.ORPHAN
        assert w.ppid == os.getpid()  # came back to the subreaper
    finally:
        if host.poll() is None:
            host.kill()
            host.wait()
        if worker_pid is not None and read_proc(worker_pid) is not None:
            os.kill(worker_pid, signal.SIGKILL)  # our own grandchild, now our child
            os.waitpid(worker_pid, 0)
