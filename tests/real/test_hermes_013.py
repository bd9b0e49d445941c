"""hermes-agent 0.13.0 (the seed issue's version), for real: what a tab starts,
what leaks when it closes, and what frees the leaked FDs."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable

import pytest

from hermes_top.core.model import Role
from hermes_top.core.rules import SESSION_KEY, match_argv
from tests.harness import must_facts, proc_facts
from tests.real.dashboard import Dashboard, environ_of, fd_targets, wait_for

V = "0.13.0"
pytestmark = pytest.mark.timeout(300)

StartDashboard = Callable[..., Dashboard]


def test_a_tab_starts_node_entry_and_two_workers(
    start_dashboard: StartDashboard, facts_log: dict[str, object]
) -> None:
    dash = start_dashboard(V, fd_limit=128)
    assert dash.status()["version"] == V
    assert dash.nofile()[0] == 128
    idle_fds = dash.fd_count()
    info = dash.open_tab()
    procs = {p.pid: p for p in dash.processes()}
    dash_facts: dict[str, object] = {"pid": dash.pid, "argv": dash.argv}

    # node: a child of the dashboard, session leader on a PTY.
    assert info.node_pid is not None
    node = procs[info.node_pid]
    assert node.ppid == dash.pid
    assert node.sid == node.pid == node.pgid
    assert node.tty_nr != 0
    assert node.argv[1:] == (f"{dash.install.tui_dir}/dist/entry.js",), node.argv
    assert os.path.basename(node.argv[0]) == "node"

    # gateway entry: node's child, in node's session and group, same tty.
    assert info.entry_pid is not None
    entry = procs[info.entry_pid]
    assert entry.ppid == node.pid
    assert (entry.sid, entry.pgid, entry.tty_nr) == (node.sid, node.pgid, node.tty_nr)
    assert entry.argv == ("python3", "-m", "tui_gateway.entry"), entry.argv

    # Two workers: the sidebar's (session.create over /api/ws) is the dashboard's
    # own child in the dashboard's group; the PTY session's is the entry's child.
    assert len(info.workers) == 2, info.workers
    by_parent = {procs[pid].ppid: procs[pid] for pid in info.workers}
    assert set(by_parent) == {dash.pid, entry.pid}
    side, pty_worker = by_parent[dash.pid], by_parent[entry.pid]
    assert (side.sid, side.pgid, side.tty_nr) == (dash.pid, dash.pid, 0)
    assert (pty_worker.sid, pty_worker.pgid) == (node.sid, node.pgid)
    assert pty_worker.tty_nr == node.tty_nr
    venv_bin = f"{dash.install.venv}/bin"
    assert side.argv[:3] == (f"{venv_bin}/python", "-m", "tui_gateway.slash_worker")
    assert pty_worker.argv[:3] == (f"{venv_bin}/python3", "-m", "tui_gateway.slash_worker")
    for w in (side, pty_worker):
        assert w.argv[3] == "--session-key" and SESSION_KEY.match(w.argv[4]), w.argv
        assert w.argv[5:] == ("--model", "dummy-model")
    assert side.session_key != pty_worker.session_key

    # The product's rules read every one of them the same way.
    assert match_argv(node.argv) is not None and match_argv(node.argv).role is Role.TUI  # type: ignore[union-attr]
    for p, role in ((entry, Role.GATEWAY_ENTRY), (side, Role.SLASH_WORKER)):
        m = match_argv(p.argv)
        assert m is not None and m.role is role, (p.argv, m)
    real_dash_argv = must_facts(dash.pid).cmdline  # what ps shows: the shebang's python first
    assert real_dash_argv == (f"{venv_bin}/python", *dash.argv), real_dash_argv
    dm = match_argv(real_dash_argv)
    assert dm is not None and dm.role is Role.DASHBOARD and dm.port == dash.port
    dash_facts["ps_argv"] = real_dash_argv

    # Environment of the tab's node (what a scanner could read for its own user).
    env = environ_of(node.pid)
    sidecar_url = env.get("HERMES_TUI_SIDECAR_URL", "")
    assert "token=" in sidecar_url and f"channel={info.tab.channel}" in sidecar_url
    assert "HERMES_TUI_GATEWAY_URL" not in env  # 0.13 always spawns its own entry
    tui_env = sorted(k for k in env if k.startswith("HERMES_"))

    # FDs: the dashboard holds the PTY master and the sidebar worker's 3 pipes.
    assert dash.pipes_shared_with(side.pid) and len(dash.pipes_shared_with(side.pid)) == 3
    open_fds = dash.fd_count()
    facts_log[f"{V} shapes"] = {
        "dashboard": dash_facts,
        "node": node.argv,
        "entry": entry.argv,
        "sidebar_worker": side.argv,
        "pty_worker": pty_worker.argv,
        "node_env_keys": tui_env,
        "fds_idle": idle_fds,
        "fds_one_tab": open_fds,
        "fd_kinds_one_tab": dash.fd_kinds(),
        "node_after_s": info.node_after,
        "workers_after_s": info.workers_after,
        "llm_requests": len(dash.llm.requests),
        "proxy_trap": dash.trap.seen(),
    }

    # Closing the tab ends the PTY side; the sidebar worker stays, still the
    # dashboard's child, its 3 pipes still in the dashboard.
    dash.close_tab(info, "clean")
    left = dash.wait_exit([node.pid, entry.pid, pty_worker.pid], timeout=20)
    assert not left, f"PTY side still running after the tab closed: {left}"
    time.sleep(2)
    live = {p.pid: p for p in dash.workers()}
    assert side.pid in live and live[side.pid].ppid == dash.pid
    assert len(dash.pipes_shared_with(side.pid)) == 3
    facts_log[f"{V} shapes"]["fds_after_close"] = dash.fd_count()  # type: ignore[index]


def _settle(dash: Dashboard, pids: list[int], how: str = "clean") -> None:
    left = dash.wait_exit(pids, timeout=20)
    # Seen twice in six runs on 2026-12-07 (0.13.0, the entry of a closed tab still
    # there after 20 s): say which close and what the process waits on, for next time.
    # The gateway's crash log says whether it saw a signal or stdin EOF, and (on a
    # signal) where every thread was: the question open since then.
    assert not left, (
        f"still running after the tab closed ({how}): {_waiting(left)}; "
        f"tui_gateway_crash.log ends: {_crash_log_tail(dash)!r}"
    )


def _waiting(pids: list[int]) -> list[str]:
    out = []
    for pid in pids:
        facts = proc_facts(pid)
        out.append(
            f"{pid} {facts.comm if facts else '?'} state {facts.state if facts else '?'} "
            f"ppid {facts.ppid if facts else '?'} threads' wchan {_thread_waits(pid)}"
        )
    return out


def _thread_waits(pid: int) -> list[str]:
    waits = []
    with contextlib.suppress(OSError):
        for tid in sorted(os.listdir(f"/proc/{pid}/task"), key=int):
            with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{tid}/wchan") as f:
                waits.append(f.read().strip() or "-")
    return waits


def _crash_log_tail(dash: Dashboard, size: int = 2000) -> str:
    """The log's last headers (one per signal or exit, every tab's entry writes
    there), then its last ``size`` characters (the stacks at the last signal)."""
    try:
        text = (dash.home / "logs" / "tui_gateway_crash.log").read_text(errors="replace")
    except OSError:
        return ""
    headers = [line for line in text.splitlines() if line.startswith("=== ")][-8:]
    return "\n".join(headers) + "\n...\n" + text[-size:]


def test_closed_tabs_leak_one_worker_each_3_fds(
    start_dashboard: StartDashboard, facts_log: dict[str, object]
) -> None:
    dash = start_dashboard(V, fd_limit=128)
    idle = dash.fd_count()
    # Warm-up tab: the first one also opens state.db, logs, the sidecar machinery.
    first = dash.open_tab()
    dash.close_tab(first, "clean")
    _settle(dash, [p for p in (first.node_pid, first.entry_pid) if p])
    time.sleep(1)
    base_fds = dash.fd_count()
    base_kinds = dash.fd_kinds()
    base_workers = {p.pid for p in dash.workers()}
    assert len(base_workers) == 1
    assert dash.inbound_connections() == 0

    closes = ["clean", "fin", "rst", "clean", "fin", "rst"]
    seen_open: list[int] = []
    leaked: dict[int, str] = {}
    for how in closes:
        info = dash.open_tab()
        seen_open.append(dash.fd_count())
        conns_open = dash.inbound_connections()
        side = [pid for pid in info.workers if dash._pinned_facts(pid).ppid == dash.pid]  # type: ignore[union-attr]
        assert len(side) == 1
        dash.close_tab(info, how)
        pty_side = [p for p in (info.node_pid, info.entry_pid) if p]
        pty_side += [pid for pid in info.workers if pid not in side]
        _settle(dash, pty_side, how)
        leaked[side[0]] = info.workers[side[0]]
    wait_for(lambda: dash.inbound_connections() == 0, "browser connections to go", 10)
    time.sleep(1)
    workers = {p.pid: p for p in dash.workers()}
    assert set(workers) == base_workers | set(leaked), (workers, leaked)
    assert all(workers[pid].ppid == dash.pid for pid in leaked)
    assert len(set(leaked.values())) == len(leaked), "session keys are unique"
    after = dash.fd_count()
    kinds = dash.fd_kinds()
    assert kinds["pipe"] - base_kinds["pipe"] == 3 * len(closes), (base_kinds, kinds)
    assert after - base_fds == 3 * len(closes), (base_kinds, kinds)
    for pid in leaked:
        assert len(dash.pipes_shared_with(pid)) == 3
    facts_log[f"{V} leak"] = {
        "fds_idle": idle,
        "fds_after_warmup_tab": base_fds,
        "fds_with_one_tab_open": seen_open,
        "fds_after": after,
        "per_leaked_tab": (after - base_fds) / len(closes),
        "inbound_connections_while_open": conns_open,
        "fd_kinds_after": dash.fd_kinds(),
        "leaked": len(leaked) + len(base_workers),
        "status_active_sessions": dash.status().get("active_sessions"),
        "dashboard_worker_env_has_session_key": any(
            "HERMES_SESSION_KEY" in environ_of(pid) for pid in leaked
        ),
    }

    # Killing a leaked worker frees nothing: it stays the dashboard's zombie
    # (never waited for) and its 3 pipe ends stay open in the dashboard.
    victim = next(iter(leaked))
    pipes = dash.pipes_shared_with(victim)
    assert dash.signal(victim, signal.SIGTERM)
    wait_for(lambda: dash._pinned_facts(victim).state == "Z", "the worker to die", 10)  # type: ignore[union-attr]
    time.sleep(2)
    z = dash._pinned_facts(victim)
    assert z is not None and z.state == "Z" and z.ppid == dash.pid
    assert dash.fd_kinds()["pipe"] == kinds["pipe"], "no pipe FD was freed"
    assert dash.fd_count() >= after
    assert pipes <= set(fd_targets(dash.pid).values()), "the dead worker's pipe ends stay open"
    facts_log[f"{V} killed leaked worker"] = {
        "state": z.state,
        "ppid_is_dashboard": True,
        "fds_after_kill": dash.fd_count(),
    }


def test_restart_frees_everything_and_relaunch_works(
    start_dashboard: StartDashboard, facts_log: dict[str, object]
) -> None:
    dash = start_dashboard(V, fd_limit=128)
    first_ready = dash.ready_after
    for how in ("clean", "rst"):
        info = dash.open_tab()
        dash.close_tab(info, how)
    time.sleep(3)
    leaked = [p.pid for p in dash.workers() if p.ppid == dash.pid]
    assert len(leaked) == 2
    fds_leaky = dash.fd_count()
    report = dash.stop(grace=15, kill_descendants=False)
    assert "sigkill" not in report, "the dashboard did not stop on SIGTERM"
    # Its workers see EOF on stdin once the dashboard's pipe ends close: they exit.
    left = dash.wait_exit(leaked, timeout=15)
    survivors = [(p.pid, p.role, p.ppid) for p in dash.processes() if not p.zombie]
    facts_log[f"{V} restart"] = {
        "sigterm_exit_s": report["exit_seconds"],
        "returncode": report["returncode"],
        "survivors_right_after_exit": [(p.pid, p.role) for p in report["survivors"]],
        "workers_still_running_15s_later": left,
        "survivors_15s_later": survivors,
        "fds_before_restart": fds_leaky,
    }
    assert not left, f"leaked workers outlived their dashboard: {left}"
    # Same argv, cwd, env and port: it comes back, with the idle FD count.
    ready = dash.start()
    assert dash.status()["version"] == V
    info = dash.open_tab()
    assert info.workers
    facts_log[f"{V} restart"].update(  # type: ignore[attr-defined]
        {
            "first_start_ready_s": first_ready,
            "relaunch_ready_s": ready,
            "fds_after_relaunch_one_tab": dash.fd_count(),
        }
    )


def test_dashboard_api_on_013(start_dashboard: StartDashboard) -> None:
    """The product's client on the real 0.13: status and token yes, no session list."""
    from hermes_top.core import dashboard_api as api

    dash = start_dashboard(V, fd_limit=128)
    status = api.fetch_status(dash.port)
    assert status is not None and status["version"] == V
    assert api.fetch_token(dash.port) == dash.token
    got = api.probe_active_sessions(dash.port, dash.token, timeout=10)
    assert got.error == "unsupported" and got.sessions == ()
    bad = api.probe_active_sessions(dash.port, "not-the-token", timeout=10)
    assert bad.error == "unauthorized"
    assert not [p for p in dash.processes() if p.role == "slash_worker"], "asking starts nothing"


def test_orphaned_pty_side_at_tab_close(
    start_dashboard: StartDashboard, facts_log: dict[str, object]
) -> None:
    """Which PTY-side process outlives its parent when a tab closes (it is then
    reparented to the nearest subreaper: here pytest, in the wild launchd/init)."""
    dash = start_dashboard(V, fd_limit=128)
    seen: list[dict[str, object]] = []
    for how in ("clean", "rst", "fin"):
        info = dash.open_tab()
        assert info.entry_pid is not None and info.node_pid is not None
        pty_worker = next(
            pid
            for pid in info.workers
            if dash._pinned_facts(pid).ppid == info.entry_pid  # type: ignore[union-attr]
        )
        watch = {"node": info.node_pid, "entry": info.entry_pid, "pty_worker": pty_worker}
        parents: dict[str, set[int]] = {k: set() for k in watch}
        dash.close_tab(info, how)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not all(dash.exited(p) for p in watch.values()):
            for name, pid in watch.items():
                facts = dash._pinned_facts(pid)
                if facts is not None:
                    parents[name].add(facts.ppid)
            time.sleep(0.01)
        for name, pid in watch.items():
            facts = dash._pinned_facts(pid)
            if facts is not None:
                parents[name].add(facts.ppid)
        assert all(dash.exited(p) for p in watch.values())
        seen.append(
            {
                "close": how,
                "reparented_to_pytest": sorted(
                    name for name, ps in parents.items() if os.getpid() in ps
                ),
            }
        )
        dash.wait_exit(list(watch.values()), 1)  # reaps what came to us
    facts_log[f"{V} pty side at close"] = seen
    # The entry outlives node (its parent) every time: an orphan for a moment.
    assert all("entry" in step["reparented_to_pytest"] for step in seen), seen  # type: ignore[operator]
    # ... and exits by itself: nothing of that tab is left below pytest.
    mine = [p for p in dash.processes() if p.ppid == os.getpid() and not p.zombie]
    assert not mine, mine


def test_fd_exhaustion(start_dashboard: StartDashboard, facts_log: dict[str, object]) -> None:
    """With a small budget the leak runs the dashboard out of FDs: new tabs then
    get no worker, and the budget is all leaked pipes."""
    from tests.real import browser

    limit = 48
    dash = start_dashboard(V, fd_limit=limit)
    steps: list[dict[str, object]] = []
    starved = False
    for _ in range(12):
        before = {p.pid for p in dash.workers() if p.ppid == dash.pid}
        try:
            tab = browser.open_tab(dash.port, dash.token, V)
        except (OSError, TimeoutError, RuntimeError, browser.WsClosed) as exc:
            steps.append({"open_failed": type(exc).__name__, "fds": dash.fd_count()})
            starved = True
            break
        got = None
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and got is None:
            new = [p.pid for p in dash.workers() if p.ppid == dash.pid and p.pid not in before]
            got = new[0] if new else None
            time.sleep(0.2)
        fds_open = dash.fd_count()
        events = []
        while tab.sidecar is not None and not tab.sidecar.messages.empty():
            frame = tab.sidecar.messages.get()
            events.append(frame.data.decode(errors="replace")[:300])
        errors = [e for e in events if '"error"' in e or "failed" in e]
        tab.close("clean")
        time.sleep(2)
        steps.append(
            {
                "worker": got is not None,
                "fds_open": fds_open,
                "fds_after": dash.fd_count(),
                "sidebar_errors": errors,
            }
        )
        if got is None:
            starved = True
            break
    leaked = [p for p in dash.workers() if p.ppid == dash.pid]
    try:
        status_ok = dash.status()["version"] == V
    except (OSError, AssertionError):
        status_ok = False
    log = dash.log_tail(20000)
    facts_log[f"{V} fd exhaustion"] = {
        "limit": limit,
        "steps": steps,
        "leaked_workers": len(leaked),
        "fds_end": dash.fd_count(),
        "status_answers": status_ok,
        "emfile_in_log": "Too many open files" in log,
        "log_lines_with_errno24": [ln[:200] for ln in log.splitlines() if "Errno 24" in ln][:5],
    }
    assert starved, f"{limit} FDs never ran out: {steps}"
    assert len(leaked) >= 3
    assert dash.fd_count() >= limit - 16
