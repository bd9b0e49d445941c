"""Random argv through the matcher and every renderer: no crash, no raw
control character out, no bait matched."""

from __future__ import annotations

import io
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hermes_top.commands import procs
from hermes_top.core import node_options
from hermes_top.core.escape import escape_argv, escape_control
from hermes_top.core.model import (
    DashboardInfo,
    FdLimits,
    Identity,
    ProcessInfo,
    Role,
    SessionInfo,
    Snapshot,
    State,
)
from hermes_top.core.redact import redact_argv
from hermes_top.core.rules import NODE_NOT_A_SCRIPT, match_argv
from hermes_top.tui.screens.confirm import target_lines
from hermes_top.tui.widgets.details import render_details
from hermes_top.view.tree import build_rows, short_command

HERMES_PATHS = [
    "/v/lib/python3.11/site-packages/hermes_cli/tui_dist/entry.js",
    "/home/u/hermes/ui-tui/dist/entry.js",
    "tui_gateway.slash_worker",
    "tui_gateway.entry",
    "/v/lib/python3.11/site-packages/tui_gateway/slash_worker.py",
    "/v/bin/hermes",
]
INNOCENT = ["/srv/app.js", "server.py", "-", "index.js"]

# Words: anything a process can put in argv, control characters and undecodable
# bytes (surrogateescape, as /proc is read) included.
raw_words = st.one_of(
    st.text(max_size=40),
    st.binary(max_size=40).map(lambda b: b.decode("utf-8", "surrogateescape")),
    st.text(alphabet=st.characters(max_codepoint=0x9F), max_size=40),
    st.sampled_from(["\x1b]52;c;ZXZpbA==\x07", "\n", "\r\x1b[2K", "\u202e", "\x00", "\udcff"]),
)
NODE_ALL = node_options.VALUE_OPTIONS | node_options.FLAG_OPTIONS | node_options.V8_OPTIONS
PYTHON_OPTIONS = ["-m", "-c", "-W", "-X", "-u", "-OO", "--", "--check-hash-based-pycs"]
options = st.sampled_from([*sorted(NODE_ALL), *PYTHON_OPTIONS, "--help-all"])
word = st.one_of(raw_words, options, st.sampled_from(HERMES_PATHS + INNOCENT))
programs = st.sampled_from(
    ["node", "/usr/bin/node", "nodejs", "python3", "/v/bin/python3.11", "python", "hermes", "pypy3"]
)
argvs = st.builds(lambda p, rest: [p, *rest], programs, st.lists(word, max_size=12))
long_argvs = st.builds(lambda p, w: [p, w * 2000], programs, raw_words)


def clean(text: str) -> bool:
    return all(ch == "\n" or ch.isprintable() for ch in text)


def _snapshot(argv: list[str], comm: str, user: str) -> tuple[Snapshot, ProcessInfo]:
    shown = escape_argv(redact_argv(argv))
    name = escape_control(comm)
    worker = ProcessInfo(
        identity=Identity(4242, 1000.0, 1000, tuple(argv), 1),
        ppid=4000,
        role=Role.SLASH_WORKER,
        state=State.ORPHAN,
        reason=f"no live dashboard above it; parent is {name} 4000",
        session_key=escape_control(argv[-1][:64]) if argv else None,
        dashboard_pid=None,
        host_pid=None,
        username=escape_control(user),
        name=name,
        status="S",
        age_s=12.0,
        num_fds=3,
        num_fds_error=None,
        cmdline=shown,
    )
    dash = ProcessInfo(
        identity=Identity(4000, 900.0, 1000, ("hermes", "dashboard"), 2),
        ppid=1,
        role=Role.DASHBOARD,
        state=State.LIVE,
        reason="dashboard",
        session_key=None,
        dashboard_pid=4000,
        host_pid=None,
        username=escape_control(user),
        name=name,
        status="S",
        age_s=99.0,
        num_fds=30,
        num_fds_error=None,
        cmdline=shown,
    )
    info = DashboardInfo(
        4000,
        30,
        FdLimits(256, None, "plist", True, escape_control(comm)),
        0,
        True,
        (SessionInfo("k", None, None, (4242,)),),
    )
    return Snapshot(1012.0, "linux", (dash, worker), (info,)), worker


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(argvs, long_argvs), raw_words, raw_words)
def test_matcher_and_renderers_never_crash_nor_leak_control_characters(
    argv: list[str], comm: str, user: str
) -> None:
    match_argv(argv)  # must not raise, whatever the argv
    snap, worker = _snapshot(argv, comm, user)
    assert clean(procs.render_text(snap))
    out = io.StringIO()
    procs.print_plan([worker], [(worker, worker.reason)], out)
    assert clean(out.getvalue())
    assert clean(target_lines([worker], 80).plain)
    assert clean(render_details(worker, snap, None).plain)
    assert clean(short_command(worker.cmdline))
    for row in build_rows(snap, filter_text=comm):
        assert clean(row.guide)


node_flags = st.lists(
    st.sampled_from(sorted(node_options.FLAG_OPTIONS - NODE_NOT_A_SCRIPT)), max_size=3
)
value_options = st.sampled_from(sorted(node_options.VALUE_OPTIONS - NODE_NOT_A_SCRIPT))


@settings(max_examples=300, deadline=None)
@given(node_flags, value_options, st.sampled_from(HERMES_PATHS[:2]), st.sampled_from(INNOCENT))
def test_a_hermes_path_as_an_option_value_is_never_matched(
    flags: list[str], option: str, path: str, app: str
) -> None:
    """node runs ``app``: the Hermes path is only the value of ``option``."""
    assert match_argv(["node", *flags, option, path, app]) is None


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["-c", "-m"]), st.sampled_from(["pass", "runpy", "http.server"]))
def test_python_code_or_another_module_is_never_a_worker(flag: str, value: str) -> None:
    for module in ("tui_gateway.slash_worker", "tui_gateway.entry"):
        assert match_argv(["python3", flag, value, "-m", module]) is None
        assert (
            match_argv(["python3", flag, value, str(Path("/x/tui_gateway/slash_worker.py"))])
            is None
        )
