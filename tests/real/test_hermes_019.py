"""hermes-agent 0.19.0, for real: the attach path, keep-alive, what
``session.active_list`` and ``state.db`` say, and what frees a killed worker's FDs."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

import pytest

from hermes_top.core import dashboard_api as api
from hermes_top.core.model import Role
from hermes_top.core.rules import SESSION_KEY, match_argv
from tests.harness import must_facts
from tests.real.dashboard import Dashboard, environ_of, fd_targets, wait_for

V = "0.19.0"
pytestmark = pytest.mark.timeout(300)

StartDashboard = Callable[..., Dashboard]


def _active(dash: Dashboard) -> dict[str, api.ActiveSession]:
    token = api.fetch_token(dash.port)
    assert token is not None and token == dash.token
    rows = api.active_sessions(dash.port, token, timeout=10)
    assert rows is not None
    return {row.session_key: row for row in rows}


def _wait_completion(dash: Dashboard, before: int, timeout: float = 30) -> None:
    wait_for(lambda: len(dash.llm.completions()) > before, "a chat completion", timeout)


def test_a_tab_starts_node_and_two_dashboard_workers(
    start_dashboard: StartDashboard, facts_log: dict[str, object]
) -> None:
    dash = start_dashboard(V, fd_limit=128)
    status = dash.status()
    assert status["version"] == V
    idle = dash.fd_count()
    info = dash.open_tab()
    procs = {p.pid: p for p in dash.processes()}
    assert info.node_pid is not None and info.entry_pid is None  # no tui_gateway.entry
    node = procs[info.node_pid]
    site = next(dash.install.venv.glob("lib/python3*/site-packages"))
    assert node.argv[1:] == ("--expose-gc", f"{site}/hermes_cli/tui_dist/entry.js"), node.argv
    assert node.ppid == dash.pid and node.sid == node.pid == node.pgid and node.tty_nr != 0
    assert os.readlink(f"/proc/{node.pid}/cwd") == f"{site}/hermes_cli/tui_dist"

    assert len(info.workers) == 2
    workers = [procs[pid] for pid in info.workers]
    for w in workers:
        assert w.ppid == dash.pid, "both workers are the dashboard's own children"
        assert w.sid == w.pid == w.pgid and w.tty_nr == 0  # start_new_session=True
        assert w.argv[:3] == (f"{dash.install.venv}/bin/python", "-m", "tui_gateway.slash_worker")
        assert SESSION_KEY.match(w.argv[4]) and w.argv[5:] == ("--model", "dummy-model")
        m = match_argv(w.argv)
        assert m is not None and m.role is Role.SLASH_WORKER and m.session_key == w.argv[4]
        assert len(dash.pipes_shared_with(w.pid)) == 3
    m = match_argv(node.argv)
    assert m is not None and m.role is Role.TUI
    real_dash_argv = must_facts(dash.pid).cmdline
    assert real_dash_argv == (f"{dash.install.venv}/bin/python", *dash.argv), real_dash_argv
    dm = match_argv(real_dash_argv)
    assert dm is not None and dm.role is Role.DASHBOARD and dm.port == dash.port
    assert must_facts(dash.pid).sid == dash.pid  # started in its own session, like a service

    # The product's client: status needs no token; a wrong token is refused.
    api_status = api.fetch_status(dash.port)
    assert api_status is not None and api_status["version"] == V
    assert api.probe_active_sessions(dash.port, "wrong-token", timeout=10).error == "unauthorized"

    # session.active_list: one row per worker; the sidebar's row is its session.create.
    active = wait_for(lambda: len(_active(dash)) == 2 and _active(dash), "two sessions", 20)
    assert set(active) == set(info.workers.values())
    side_key = next(k for k, row in active.items() if row.id == info.tab.sidecar_session_id)
    node_key = next(k for k in active if k != side_key)
    side_pid = next(pid for pid, k in info.workers.items() if k == side_key)
    node_worker = next(pid for pid, k in info.workers.items() if k == node_key)

    env = environ_of(node.pid)
    assert env["HERMES_TUI_DASHBOARD"] == "1" and env["HERMES_TUI_INLINE"] == "1"
    assert env["HERMES_TUI_GATEWAY_URL"].startswith(f"ws://127.0.0.1:{dash.port}/api/ws?token=")
    assert f"channel={info.tab.channel}" in env["HERMES_TUI_SIDECAR_URL"]
    active_file = env["HERMES_TUI_ACTIVE_SESSION_FILE"]
    assert os.path.basename(active_file).startswith("hermes-pty-active-")
    worker_env = environ_of(node_worker)
    facts_log[f"{V} shapes"] = {
        "status_keys": sorted(status),
        "node": node.argv,
        "worker": workers[0].argv,
        "node_env_keys": sorted(k for k in env if k.startswith("HERMES_")),
        "worker_env_hermes_keys": sorted(k for k in worker_env if k.startswith("HERMES_")),
        "worker_env_session_values": {
            k: worker_env.get(k)
            for k in (
                "HERMES_SESSION_KEY",
                "HERMES_SESSION_ID",
                "HERMES_UI_SESSION_ID",
                "HERMES_SESSION_SOURCE",
                "HERMES_SESSION_PLATFORM",
                "HERMES_GATEWAY_SESSION",
            )
        },
        "worker_key_and_sid": (node_key, active[node_key].id),
        "side_worker_env_session_values": {
            k: environ_of(side_pid).get(k)
            for k in ("HERMES_SESSION_KEY", "HERMES_SESSION_ID", "HERMES_UI_SESSION_ID")
        },
        "side_key_and_sid": (side_key, active[side_key].id),
        "fds_idle": idle,
        "fds_one_tab": dash.fd_count(),
        "fd_kinds_one_tab": dash.fd_kinds(),
        "node_after_s": info.node_after,
        "workers_after_s": info.workers_after,
        "active_list": {k: vars(v) for k, v in active.items()},
        "inbound_connections_open": dash.inbound_connections(),
        "worker_fds": sorted(fd_targets(node_worker).values()),
        "proxy_trap": dash.trap.seen(),
    }

    statuses_at_start = sorted(r.status for r in active.values())
    wait_for(lambda: all(r.status == "idle" for r in _active(dash).values()), "idle", 30)
    facts_log[f"{V} shapes"]["statuses_right_after_open"] = statuses_at_start  # type: ignore[index]

    # A clean close: the sidebar's session is closed at once (close_on_disconnect)
    # and its worker exits; node's session is parked (keep-alive), still listed.
    t0 = time.monotonic()
    dash.close_tab(info, "clean")
    assert not dash.wait_exit([side_pid], timeout=20), "the sidebar worker did not exit"
    side_exit = time.monotonic() - t0
    active = wait_for(lambda: side_key not in _active(dash) and _active(dash), "sidebar gone", 10)
    assert set(active) == {node_key} and active[node_key].status == "idle"
    assert not dash.exited(node.pid) and not dash.exited(node_worker)
    facts_log[f"{V} shapes"]["after_close"] = {  # type: ignore[index]
        "sidebar_worker_exit_s": round(side_exit, 2),
        "fds": dash.fd_count(),
        "inbound_connections": dash.inbound_connections(),
    }


def test_keepalive_reattach_and_state_db(
    start_dashboard: StartDashboard, facts_log: dict[str, object]
) -> None:
    dash = start_dashboard(V, fd_limit=128)
    info = dash.open_tab()
    assert info.node_pid is not None
    active = wait_for(lambda: len(_active(dash)) == 2 and _active(dash), "two sessions", 20)
    side_key = next(k for k, r in active.items() if r.id == info.tab.sidecar_session_id)
    node_key = next(k for k in active if k != side_key)
    node_worker = next(pid for pid, k in info.workers.items() if k == node_key)
    wait_for(lambda: all(r.status == "idle" for r in _active(dash).values()), "idle", 30)

    # A prompt typed into the terminal: the row appears, keyed by node's session key.
    n = len(dash.llm.completions())
    time.sleep(1)
    info.tab.say("hello")
    _wait_completion(dash, n)
    rows = wait_for(lambda: {r["id"]: r for r in dash.state_db_rows()}, "a state.db row", 15)
    assert node_key in rows and rows[node_key]["source"] == "tui"
    assert rows[node_key]["ended_at"] is None and rows[node_key]["end_reason"] is None
    assert side_key not in rows, "no row before a session's first message"
    time.sleep(2)
    twins = [p.pid for p in dash.workers() if p.session_key == node_key]
    after_turn = {"workers_for_node_key": twins, "same_worker": twins == [node_worker]}

    # And one through the sidebar session (JSON-RPC prompt.submit), so it gets a row too.
    assert info.tab.rpc is not None
    n = len(dash.llm.completions())
    info.tab.rpc.request("prompt.submit", {"session_id": info.tab.sidecar_session_id, "text": "hi"})
    _wait_completion(dash, n)
    wait_for(lambda: side_key in {r["id"] for r in dash.state_db_rows()}, "sidebar row", 15)

    # Close the tab abruptly (RST): the sidebar session ends and says why.
    dash.close_tab(info, "rst")
    side_pid = next(pid for pid, k in info.workers.items() if k == side_key)
    assert not dash.wait_exit([side_pid], timeout=20)
    rows = wait_for(
        lambda: (r := {x["id"]: x for x in dash.state_db_rows()})[side_key]["ended_at"] and r,
        "the sidebar row to end",
        15,
    )
    side_end = rows[side_key]["end_reason"]
    assert rows[node_key]["ended_at"] is None, "the parked node session is not ended"

    # Past the 20 s websocket-orphan reap: node and its worker are still there, listed idle.
    time.sleep(22)
    fds_one_parked = dash.fd_count()
    conns_one_parked = dash.inbound_connections()
    assert not dash.exited(info.node_pid) and not dash.exited(node_worker)
    active = _active(dash)
    assert set(active) == {node_key} and active[node_key].status == "idle"
    assert active[node_key].message_count == 2

    # The same browser profile (same attach token) gets the same node and worker back.
    info2 = dash.open_tab(attach=info.tab.attach, expect_node=False, expect_workers=1)
    assert info2.node_pid is None
    assert not dash.exited(info.node_pid) and not dash.exited(node_worker)
    nodes = [p.pid for p in dash.by_role("tui")]
    assert nodes == [info.node_pid]
    dash.close_tab(info2, "clean")
    # A new browser profile (new attach token) gets a new node.
    info3 = dash.open_tab()
    assert info3.node_pid is not None and info3.node_pid != info.node_pid
    dash.close_tab(info3, "fin")
    time.sleep(3)
    parked = {p.pid for p in dash.by_role("tui")}
    assert parked == {info.node_pid, info3.node_pid}
    fds_two_parked = dash.fd_count()
    conns_two_parked = dash.inbound_connections()

    # Restart: SIGTERM. The parked sessions are torn down and their rows end.
    report = dash.stop(grace=15, kill_descendants=False)
    left = dash.wait_exit([info.node_pid, info3.node_pid, node_worker], timeout=15)
    rows = {r["id"]: r for r in dash.state_db_rows()}
    facts_log[f"{V} keepalive"] = {
        "after_turn": after_turn,
        "sidebar_end_reason": side_end,
        "state_db_columns": sorted(next(iter(rows.values())).keys()),
        "rows_after_stop": {
            k: {c: r[c] for c in ("source", "ended_at", "end_reason", "message_count")}
            for k, r in rows.items()
        },
        "node_key": node_key,
        "fds_one_parked_two_parked": (fds_one_parked, fds_two_parked),
        "inbound_connections_one_two_parked": (conns_one_parked, conns_two_parked),
        "sigterm_exit_s": report["exit_seconds"],
        "survivors_right_after_exit": [(p.pid, p.role) for p in report["survivors"]],
        "still_running_15s_later": left,
    }
    assert not left
    ready = dash.start()
    assert dash.status()["version"] == V
    facts_log[f"{V} keepalive"]["relaunch_ready_s"] = ready  # type: ignore[index]
    facts_log[f"{V} keepalive"]["fds_after_relaunch"] = dash.fd_count()  # type: ignore[index]


def test_killed_worker_is_a_zombie_keeping_its_pipes(
    start_dashboard: StartDashboard, facts_log: dict[str, object]
) -> None:
    dash = start_dashboard(V, fd_limit=128)
    info = dash.open_tab(sidebar=False)
    assert info.node_pid is not None and len(info.workers) == 1
    worker, key = next(iter(info.workers.items()))
    wait_for(lambda: key in _active(dash), "the session", 20)
    pipes = dash.pipes_shared_with(worker)
    assert len(pipes) == 3
    pipe_fds = dash.fd_kinds()["pipe"]
    assert dash.signal(worker, signal.SIGKILL)
    wait_for(lambda: dash._pinned_facts(worker).state == "Z", "a zombie", 10)  # type: ignore[union-attr]
    time.sleep(3)
    z = dash._pinned_facts(worker)
    assert z is not None and z.state == "Z" and z.ppid == dash.pid
    still = pipes & set(fd_targets(dash.pid).values())
    active = _active(dash)
    facts_log[f"{V} killed worker"] = {
        "zombie_parent_is_dashboard": True,
        "pipes_still_held": len(still),
        "pipe_fds_before_after": (pipe_fds, dash.fd_kinds()["pipe"]),
        "session_still_listed": key in active,
        "status": active[key].status if key in active else None,
    }
    assert still == pipes, "the dashboard keeps the killed worker's pipe ends"
    assert key in active, "the session stays registered"
    # A slash command needs the worker: does the session get a new one?
    info.tab.say("/help")
    time.sleep(8)
    facts_log[f"{V} killed worker"]["workers_for_key_after_slash"] = [  # type: ignore[index]
        p.pid for p in dash.workers() if p.session_key == key
    ]

    # What frees them: the session's teardown. A sidebar session (closed as its
    # socket closes) whose worker was killed: closing the tab reaps the zombie
    # and closes its pipe ends.
    side_tab = dash.open_tab(expect_node=False, expect_workers=1, attach=info.tab.attach)
    side_worker = next(iter(side_tab.workers))
    side_pipes = dash.pipes_shared_with(side_worker)
    assert len(side_pipes) == 3
    assert dash.signal(side_worker, signal.SIGKILL)
    wait_for(lambda: dash._pinned_facts(side_worker).state == "Z", "a zombie", 10)  # type: ignore[union-attr]
    dash.close_tab(side_tab, "clean")
    t0 = time.monotonic()
    wait_for(lambda: dash._pinned_facts(side_worker) is None, "the zombie to be reaped", 15)
    wait_for(
        lambda: not (side_pipes & set(fd_targets(dash.pid).values())), "its pipes to close", 15
    )
    facts_log[f"{V} killed worker"]["freed_by_session_close_s"] = round(time.monotonic() - t0, 2)  # type: ignore[index]
    # The second tab with the same attach token took over node's PTY: the first
    # tab's socket was closed with 4409 (superseded).
    assert info.tab.pty.closed.wait(5) and info.tab.pty.close_code == 4409


def test_mcp_server_runs_under_a_watchdog_per_worker(
    start_dashboard: StartDashboard, facts_log: dict[str, object]
) -> None:
    dash = start_dashboard(V, fd_limit=256, mcp_server=True)
    time.sleep(3)
    before = {p.pid: p for p in dash.processes()}
    info = dash.open_tab(sidebar=False)
    worker = next(iter(info.workers))

    def pair_under(pid: int) -> tuple[int, int] | None:
        procs = dash.processes()
        dogs = [p for p in procs if p.role == "mcp_watchdog" and p.ppid == pid]
        servers = [p for p in procs if p.role == "mcp_server" and dogs and p.ppid == dogs[0].pid]
        return (dogs[0].pid, servers[0].pid) if dogs and servers else None

    # The worker's agent starts its MCP servers when it builds (at the first use).
    n = len(dash.llm.completions())
    time.sleep(2)
    info.tab.say("hello")
    _wait_completion(dash, n)
    pair = wait_for(lambda: pair_under(worker), "the worker's MCP pair", 40)
    procs = {p.pid: p for p in dash.processes()}
    dog, server = procs[pair[0]], procs[pair[1]]
    assert dog.argv[0] == f"{dash.install.venv}/bin/python"
    assert dog.argv[2:5] == ("--ppid", str(worker), "--")
    assert dog.argv[1].endswith("/tools/mcp_stdio_watchdog.py")
    rules_say = match_argv(dog.argv)  # the product's rules are in flux here: record only
    assert rules_say is None or rules_say.role not in (Role.SLASH_WORKER, Role.TUI)
    dash_pairs = [p for p in dash.processes() if p.role == "mcp_watchdog" and p.ppid == dash.pid]
    facts_log[f"{V} mcp"] = {
        "watchdog": dog.argv,
        "server": server.argv,
        "watchdog_sid_pgid": (dog.sid, dog.pgid, dog.pid),
        "server_sid_pgid": (server.sid, server.pgid, server.pid),
        "dashboard_has_own_pair": bool(dash_pairs),
        "before_tab": sorted({p.role for p in before.values()}),
        "product_rules_on_watchdog": repr(rules_say),
    }
    # The worker dies: its watchdog ends the server.
    t0 = time.monotonic()
    assert dash.signal(worker, signal.SIGKILL)
    left = dash.wait_exit([dog.pid, server.pid], timeout=15)
    facts_log[f"{V} mcp"]["pair_exit_after_worker_kill_s"] = round(time.monotonic() - t0, 2)  # type: ignore[index]
    assert not left, "the MCP pair outlived its worker"
