"""`hermes-top guard` as a whole process: one-line usage errors, global flags,
`--once` scoped to the test's simulation, SIGTERM ends it cleanly."""

from __future__ import annotations

import http.client
import os
import pathlib
import re
import signal
import subprocess
import sys
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from hermes_top.cli import apply_globals, build_parser
from hermes_top.core.errors import UsageError
from hermes_top.core.journal import read_journal
from hermes_top.core.model import State
from hermes_top.core.procfs import start_ticks
from hermes_top.sim import Simulation
from tests.core.helpers import scoped_core, wait_for
from tests.harness import REGISTRY, is_running, kill_exact


def _args(*argv: str) -> object:
    args = build_parser(list(argv)).parse_args(list(argv))
    apply_globals(args)
    return args


def _cli(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hermes_top", *argv],
        env=env or dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("guard", "--interval", "0"), "--interval must be"),
        (("guard", "--interval", "nan"), "--interval must be"),
        (("guard", "--min-age", "-1"), "--min-age must be"),
        (("guard", "--min-age", "1e12"), "--min-age must be"),
        (("guard", "--grace", "inf"), "--grace must be"),
        (("guard", "--metrics-listen", "0.0.0.0:9464"), "not a loopback address"),
        (("guard", "--metrics-listen", "127.0.0.1:99999"), "above 65535"),
        (("guard", "--metrics-allow-remote"), "needs --metrics-listen"),
        (("guard", "status", "--once"), "applies to the loop"),
        (("guard", "--dry-run"), "--dry-run applies"),
        (("guard", "--manager", "launchd"), "--manager applies"),
        (("guard", "run", "--warn-only"), "--warn-only applies"),
        (("guard", "--interval", "abc"), "invalid float value"),
        (("guard", "bogus"), "invalid choice"),
        (("completion", "tcsh"), "invalid choice"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv: tuple[str, ...], message: str) -> None:
    out = _cli(*argv)
    assert out.returncode == 2, out
    assert message in out.stderr
    assert out.stderr.count("\n") == 1 and out.stdout == ""


def test_global_flags() -> None:
    assert _args("guard").interval == 30.0  # type: ignore[attr-defined]
    assert _args("--interval", "5", "guard").interval == 5.0  # type: ignore[attr-defined]
    assert _args("guard", "--interval", "7").interval == 7.0  # type: ignore[attr-defined]
    assert _args("--readonly", "guard").readonly is True  # type: ignore[attr-defined]
    assert _args("list").interval == 2.0  # type: ignore[attr-defined]  (others keep theirs)
    with pytest.raises(UsageError, match="does not apply"):
        _args("--interval", "5", "metrics")
    with pytest.raises(UsageError, match="read-only"):
        _args("--readonly", "guard", "uninstall")


def test_guard_once_reaps_only_the_leak_in_scope(sim: Simulation, tmp_path: pathlib.Path) -> None:
    d = sim.start_dashboard(port=9441)
    live = sim.open_tab(d, path="attach")
    orphan = sim.orphan_worker(d)
    probe = scoped_core(sim, tmp_path / "probe.jsonl")
    try:
        wait_for(probe.scan, lambda s: (p := s.get(orphan)) is not None and p.state is State.ORPHAN)
    finally:
        probe.close()
    state = tmp_path / "state"
    env = dict(
        os.environ,
        HERMES_TOP_STATE_DIR=str(state),
        HERMES_TOP_SCOPE_ROOT=str(sim.root),
    )
    out = _cli("guard", "--once", "--min-age", "0", "--grace", "1", "--no-notify", env=env)
    assert out.returncode == 0, out.stderr
    assert "reaped 1 process(es): 1 terminated" in out.stderr
    assert not is_running(orphan)
    assert all(is_running(p) for p in live.worker_pids)
    signalled = {r["pid"] for r in read_journal(state / "signals.jsonl") if r["event"] == "signal"}
    assert signalled == {orphan}
    # Every log line is one line with a timestamp.
    for line in out.stderr.splitlines():
        assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} hermes-top guard: ", line), line


def test_guard_serves_metrics_and_stops_on_sigterm(sim: Simulation, tmp_path: pathlib.Path) -> None:
    d = sim.start_dashboard(port=9442)
    env = dict(
        os.environ,
        HERMES_TOP_STATE_DIR=str(tmp_path / "state"),
        HERMES_TOP_SCOPE_ROOT=str(sim.root),
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hermes_top",
            "guard",
            "--interval",
            "1",
            "--no-notify",
            "--metrics-listen",
            "127.0.0.1:0",
        ],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    REGISTRY.register(proc.pid, "guard under test")
    start = start_ticks(proc.pid)
    try:
        assert proc.stderr is not None
        url = None
        deadline = time.monotonic() + 30
        lines = []
        while url is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            lines.append(line)
            m = re.search(r"metrics at http://127\.0\.0\.1:(\d+)/metrics", line)
            if m:
                url = int(m.group(1))
        assert url is not None, lines
        body = ""
        for _ in range(50):  # the first tick may still be running
            conn = http.client.HTTPConnection("127.0.0.1", url, timeout=5)
            conn.request("GET", "/metrics")
            body = conn.getresponse().read().decode()
            conn.close()
            if "hermes_dashboard_open_fds{" in body:
                break
            time.sleep(0.2)
        names = {
            s.labels.get("dashboard_pid")
            for f in text_string_to_metric_families(body)
            for s in f.samples
            if s.name == "hermes_dashboard_open_fds"
        }
        assert names == {str(d.pid)}
        assert "hermes_top_guard_ticks_total" in body
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert "stopped" in proc.stderr.read()
    finally:
        if proc.poll() is None and start is not None:
            kill_exact(proc.pid, start)
        proc.wait(timeout=10)
        proc.stderr.close() if proc.stderr else None


def test_metrics_without_the_client_library_is_one_line() -> None:
    code = (
        "import sys; sys.modules['prometheus_client'] = None\n"
        "from hermes_top.cli import main\n"
        "sys.exit(main(['metrics']))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert out.returncode == 1
    assert "metrics need the prometheus_client package" in out.stderr
    assert out.stderr.count("\n") == 1 and out.stdout == ""


def test_a_relative_scope_root_is_refused() -> None:
    out = _cli("metrics", env=dict(os.environ, HERMES_TOP_SCOPE_ROOT="relative/dir"))
    assert out.returncode == 2 and "must be an absolute directory" in out.stderr
