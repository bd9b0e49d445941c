"""The `list` / `reap` CLI contract, run as whole processes against the simulator.

These machines are shared: every `reap` here that could signal is limited to
this test's own PIDs with --pid; unscoped runs are --dry-run only.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from hermes_top.core.engine import Core
from hermes_top.sim import Simulation
from tests.core.helpers import hermes_top, sim_env, wait_for
from tests.harness import is_running

PROCESS_KEYS = {
    "pid",
    "ppid",
    "role",
    "state",
    "reason",
    "session_key",
    "dashboard_pid",
    "username",
    "create_time",
    "age_s",
    "num_fds",
    "cmdline",
}
DASHBOARD_KEYS = {
    "pid",
    "num_fds",
    "fd_soft_limit",
    "fd_hard_limit",
    "fd_limit_source",
    "reclaimable_fds",
    "sessions",
}


def test_list_json_contract(sim: Simulation, tmp_path: Path) -> None:
    d = sim.start_dashboard(port=9351)
    tab = sim.open_tab(d, path="attach")
    stale = tab.worker_pids[0]
    sim.restart_worker(tab, close_old=False)
    out = hermes_top("list", "--json", state_dir=tmp_path)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["version"] == 1 and data["platform"] == "linux"
    procs = {p["pid"]: p for p in data["processes"]}
    assert procs[d.pid].keys() >= PROCESS_KEYS
    assert isinstance(procs[d.pid]["cmdline"], list)
    assert procs[stale]["state"] == "stale" and procs[stale]["reason"]
    assert procs[stale]["dashboard_pid"] == d.pid
    dash = next(x for x in data["dashboards"] if x["pid"] == d.pid)
    assert dash.keys() >= DASHBOARD_KEYS
    assert dash["fd_limit_source"] == "proc" and dash["fd_soft_limit"] == 256
    assert dash["reclaimable_fds"] == 3
    assert set(data["summary"]) >= {"live", "stale", "orphan", "zombie"}


def test_list_check_fails_on_stale_workers(sim: Simulation, tmp_path: Path) -> None:
    d = sim.start_dashboard(port=9352)
    tab = sim.open_tab(d, path="attach")
    sim.restart_worker(tab, close_old=False)
    out = hermes_top("list", "--check", state_dir=tmp_path)
    assert out.returncode == 1
    assert "stale" in out.stderr


def test_list_redacts_tokens(
    sim: Simulation, tmp_path: Path, own_children: list[subprocess.Popen[bytes]]
) -> None:
    secret_url = "https://api.example/v1?api_key=hunter2"
    argv = [
        sim.python,
        "-m",
        "tui_gateway.slash_worker",
        "--session-key",
        "20261127_230000_abcdef",
        "--model",
        secret_url,
    ]
    proc = subprocess.Popen(
        argv, env=sim_env(sim), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL
    )
    own_children.append(proc)
    out = hermes_top("list", "--json", state_dir=tmp_path)
    assert "hunter2" not in out.stdout
    procs = {p["pid"]: p for p in json.loads(out.stdout)["processes"]}
    assert "api_key=<redacted>" in " ".join(procs[proc.pid]["cmdline"])
    text = hermes_top("list", state_dir=tmp_path)
    assert "hunter2" not in text.stdout and str(proc.pid) in text.stdout


def test_reap_pid_yes_json(sim: Simulation, core: Core, tmp_path: Path) -> None:
    d = sim.start_dashboard(port=9354)
    polite = sim.orphan_worker(d)
    stubborn = sim.orphan_worker(d, ignore_term=True)
    wait_for(core.scan, lambda s: s.get(polite) is not None and s.get(stubborn) is not None)
    out = hermes_top(
        "reap",
        "--pid",
        str(polite),
        "--pid",
        str(stubborn),
        "--yes",
        "--json",
        "--grace",
        "0.5",
        state_dir=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["dry_run"] is False and report["grace_s"] == 0.5
    outcomes = {r["pid"]: r["outcome"] for r in report["results"]}
    assert outcomes == {polite: "terminated", stubborn: "killed"}
    assert {"pid", "role", "state", "outcome", "detail"} <= report["results"][0].keys()
    assert not is_running(polite) and not is_running(stubborn)
    journal = (tmp_path / "signals.jsonl").read_text().splitlines()
    assert any(json.loads(line).get("signal") == "SIGKILL" for line in journal)


def test_reap_without_yes_and_without_a_tty_refuses(
    sim: Simulation, core: Core, tmp_path: Path
) -> None:
    d = sim.start_dashboard(port=9355)
    orphan = sim.orphan_worker(d)
    wait_for(core.scan, lambda s: s.get(orphan) is not None)
    out = hermes_top("reap", "--pid", str(orphan), state_dir=tmp_path)
    assert out.returncode == 2
    assert "--yes" in out.stderr and out.stderr.count("\n") == 1
    assert is_running(orphan)


def test_reap_dry_run_signals_nothing(sim: Simulation, core: Core, tmp_path: Path) -> None:
    d = sim.start_dashboard(port=9356)
    orphan = sim.orphan_worker(d)
    wait_for(core.scan, lambda s: s.get(orphan) is not None)
    out = hermes_top("reap", "--dry-run", "--json", state_dir=tmp_path)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["dry_run"] is True
    mine = [r for r in report["results"] if r["pid"] == orphan]
    assert mine and mine[0]["outcome"] == "planned"
    assert is_running(orphan)
    assert not (tmp_path / "signals.jsonl").exists()


def test_reap_refuses_a_pid_that_is_not_hermes(tmp_path: Path) -> None:
    out = hermes_top("reap", "--pid", str(os.getpid()), "--yes", state_dir=tmp_path)
    assert out.returncode == 2
    assert str(os.getpid()) in out.stderr and "not a Hermes process" in out.stderr
