"""Prometheus exposition: parses with the client library's own parser, names
every dashboard with the numbers of the snapshot, and the guard's server is
loopback-only."""

from __future__ import annotations

import dataclasses
import http.client
import os
import pathlib
import subprocess
import sys

import pytest
from prometheus_client.parser import text_string_to_metric_families

from hermes_top.commands.metrics import MetricsServer, parse_listen
from hermes_top.core.engine import Core
from hermes_top.core.errors import UsageError
from hermes_top.core.guard import GuardStats
from hermes_top.core.model import Snapshot, State
from hermes_top.sim import Simulation
from hermes_top.testing.demo_data import demo_snapshot
from hermes_top.view.history import Trend
from hermes_top.view.metrics import render
from tests.core.helpers import wait_for

Samples = dict[str, list[tuple[dict[str, str], float]]]


def _parse(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((dict(s.labels), s.value))
    return out


def _by_pid(samples: Samples, name: str) -> dict[int, float]:
    return {int(labels["dashboard_pid"]): v for labels, v in samples.get(name, [])}


def _two_dashboards(sim: Simulation, core: Core) -> tuple[Snapshot, list[int], int]:
    a = sim.start_dashboard(port=9431, fd_soft_limit=256)
    b = sim.start_dashboard(port=9432, fd_soft_limit=512)
    sim.open_tab(a, path="attach")
    sim.open_tab(b, path="attach")
    tab = sim.open_tab(b, path="attach")
    tab.worker_pids[0]
    sim.restart_worker(tab, close_old=False)  # a stale twin under b
    orphan = sim.orphan_worker(a)
    snap = wait_for(
        core.scan,
        lambda s: (
            len(s.dashboards) == 2 and (p := s.get(orphan)) is not None and p.state is State.ORPHAN
        ),
    )
    return snap, [a.pid, b.pid], orphan


def test_metrics_parse_and_name_every_dashboard(sim: Simulation, core: Core) -> None:
    snap, pids, _ = _two_dashboards(sim, core)
    body, content_type = render(snap)
    assert content_type.startswith("text/plain")
    samples = _parse(body.decode())
    fds = _by_pid(samples, "hermes_dashboard_open_fds")
    assert set(fds) == set(pids)
    for d in snap.dashboards:
        assert fds[d.pid] == d.num_fds
        assert _by_pid(samples, "hermes_dashboard_fd_soft_limit")[d.pid] == d.limits.soft
        assert _by_pid(samples, "hermes_dashboard_fd_hard_limit")[d.pid] == d.limits.hard
        assert _by_pid(samples, "hermes_dashboard_rss_bytes")[d.pid] == d.rss_bytes
        assert _by_pid(samples, "hermes_dashboard_reclaimable_fds")[d.pid] == d.reclaimable_fds
        assert _by_pid(samples, "hermes_dashboard_restart_frees_fds")[d.pid] == d.restart_frees
    assert {int(v) for v in _by_pid(samples, "hermes_dashboard_fd_soft_limit").values()} == {
        256,
        512,
    }
    # Counts by state below each dashboard, from the snapshot itself.
    for d in snap.dashboards:
        want = {s.value: 0 for s in State}
        for p in snap.processes:
            if p.dashboard_pid == d.pid and p.pid != d.pid:
                want[p.state.value] += 1
        got = {
            labels["state"]: v
            for labels, v in samples["hermes_dashboard_processes"]
            if labels["dashboard_pid"] == str(d.pid)
        }
        assert got == want
    stale_below = {
        labels["dashboard_pid"]: v
        for labels, v in samples["hermes_dashboard_processes"]
        if labels["state"] == "stale"
    }
    assert stale_below == {str(pids[0]): 0, str(pids[1]): 1}
    machine = {labels["state"]: v for labels, v in samples["hermes_processes"]}
    assert machine["orphan"] == snap.summary["orphan"] >= 1
    assert samples["hermes_dashboards"][0][1] == 2


def test_metrics_command_scoped_to_the_simulation(
    sim: Simulation, core: Core, tmp_path: pathlib.Path
) -> None:
    _snap, pids, _ = _two_dashboards(sim, core)
    env = dict(os.environ, HERMES_TOP_SCOPE_ROOT=str(sim.root))
    out = subprocess.run(
        [sys.executable, "-m", "hermes_top", "metrics"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 0, out.stderr
    samples = _parse(out.stdout)
    assert set(_by_pid(samples, "hermes_dashboard_open_fds")) == set(pids)
    target = tmp_path / "textfile" / "hermes.prom"
    target.parent.mkdir()
    again = subprocess.run(
        [sys.executable, "-m", "hermes_top", "metrics", "--output", str(target)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert again.returncode == 0, again.stderr
    assert again.stdout == ""
    assert set(_by_pid(_parse(target.read_text()), "hermes_dashboard_open_fds")) == set(pids)
    assert list(target.parent.iterdir()) == [target], "no temp file left behind"


def test_guard_counters_and_leak_rate() -> None:
    snap = demo_snapshot()
    pid = snap.dashboards[0].pid
    stats = GuardStats(
        started_at=1000.0,
        ticks=7,
        tick_errors=1,
        last_tick_at=1210.0,
        reaped=5,
        outcomes={"terminated": 4, "killed": 1, "gone": 2},
        restarts=1,
        recoveries={"ok": 1},
        warnings={"fd_high": 2},
        journal_writable=False,
        signalling=False,
    )
    body, _ = render(snap, trends={pid: Trend(1.5, 1200.0, 256)}, guard=stats)
    samples = _parse(body.decode())
    assert samples["hermes_top_guard_reaped_total"][0][1] == 5
    assert samples["hermes_top_guard_restarts_total"][0][1] == 1
    assert samples["hermes_top_guard_ticks_total"][0][1] == 7
    outcomes = {
        labels["outcome"]: v for labels, v in samples["hermes_top_guard_reap_outcomes_total"]
    }
    assert outcomes == {"terminated": 4, "killed": 1, "gone": 2}
    assert _by_pid(samples, "hermes_dashboard_fd_leak_rate_per_minute") == {pid: 1.5}
    assert _by_pid(samples, "hermes_dashboard_fd_seconds_to_limit") == {pid: 1200.0}
    assert samples["hermes_top_guard_journal_writable"][0][1] == 0
    # Without a guard, no leak rate and no guard families.
    plain = _parse(render(snap)[0].decode())
    assert "hermes_dashboard_fd_leak_rate_per_minute" not in plain
    assert not any(name.startswith("hermes_top_guard") for name in plain)


def test_hostile_label_values_are_escaped_and_bounded() -> None:
    snap = demo_snapshot()
    evil = 'work"}\nhermes_dashboards 999\n\x1b[2J' + "x" * 500
    first = dataclasses.replace(snap.dashboards[0], profile=evil, hermes_version='1"\n')
    snap = dataclasses.replace(snap, dashboards=(first, *snap.dashboards[1:]))
    text = render(snap)[0].decode()
    samples = _parse(text)
    assert samples["hermes_dashboards"] == [({}, 2.0)]
    profiles = {
        int(labels["dashboard_pid"]): labels["profile"]
        for labels, _ in samples["hermes_dashboard_open_fds"]
    }
    shown = profiles[first.pid]
    assert shown.startswith('work"}')
    assert "\n" not in shown and "\x1b" not in shown and len(shown) <= 64


def test_the_guard_server_is_loopback_only_and_serves_metrics() -> None:
    snap = demo_snapshot()
    server = MetricsServer("127.0.0.1", 0, lambda accept: render(snap, accept=accept))
    server.start()
    try:

        def get(path: str, host: str | None = None) -> tuple[int, str]:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
            try:
                headers = {"Host": host} if host else {}
                conn.request("GET", path, headers=headers)
                resp = conn.getresponse()
                return resp.status, resp.read().decode()
            finally:
                conn.close()

        status, body = get("/metrics")
        assert status == 200
        assert set(_by_pid(_parse(body), "hermes_dashboard_open_fds")) == {
            d.pid for d in snap.dashboards
        }
        assert get("/metrics", host=f"localhost:{server.port}")[0] == 200
        assert get("/metrics", host="attacker.example")[0] == 403  # DNS rebinding
        assert get("/secret")[0] == 404
    finally:
        server.close()


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("9464", "ADDRESS:PORT"),
        ("localhost:9464", "not an IP address"),
        ("0.0.0.0:9464", "not a loopback address"),
        ("127.0.0.1:65536", "above 65535"),
        ("127.0.0.1:-1", "not a port"),
        ("::1:9464", "in brackets"),
    ],
)
def test_bad_listen_addresses_are_one_line_usage_errors(text: str, why: str) -> None:
    with pytest.raises(UsageError, match=why):
        parse_listen(text, allow_remote=False)


def test_good_listen_addresses() -> None:
    assert parse_listen("127.0.0.1:9464", allow_remote=False) == ("127.0.0.1", 9464)
    assert parse_listen("[::1]:0", allow_remote=False) == ("::1", 0)
    assert parse_listen("0.0.0.0:9464", allow_remote=True) == ("0.0.0.0", 9464)
