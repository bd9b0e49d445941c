"""Which argv is which Hermes process: the one table of matching rules.

Matching is on argv *structure* — which program runs, which module or script
it was told to run, which subcommand — never on substrings, so
``grep tui_gateway.slash_worker`` or ``vim tui_gateway/slash_worker.py`` are
never mistaken for workers. When real Hermes processes look different from
what is written here, edit the tables below; nothing else should need to change.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from hermes_top.core import node_options
from hermes_top.core.escape import escape_control
from hermes_top.core.model import Role

# --- The tables ------------------------------------------------------------

#: ``python -m <module>`` → role. ``None`` means "the hermes CLI": the role
#: then comes from its subcommand (CLI_SUBCOMMANDS).
PYTHON_MODULES: dict[str, Role | None] = {
    "hermes_cli.main": None,
    "hermes_cli": None,
    "tui_gateway.entry": Role.GATEWAY_ENTRY,
    "tui_gateway.slash_worker": Role.SLASH_WORKER,
}

#: ``python <script>``: the script path's trailing components → role (None = hermes CLI).
PYTHON_SCRIPTS: tuple[tuple[tuple[str, ...], Role | None], ...] = (
    (("hermes",), None),  # <venv>/bin/hermes (console-script shim)
    (("hermes_cli", "main.py"), None),
    (("tui_gateway", "entry.py"), Role.GATEWAY_ENTRY),
    (("tui_gateway", "slash_worker.py"), Role.SLASH_WORKER),
    # 0.19+: every worker (and the dashboard) runs each stdio MCP server as
    # ``python …/tools/mcp_stdio_watchdog.py --ppid P -- CMD …``.
    (("tools", "mcp_stdio_watchdog.py"), Role.MCP),
)

#: A node tab the dashboard spawned from somewhere else (``HERMES_TUI_DIR``):
#: matched only when its parent is a live dashboard, so no stranger matches.
NODE_SCRIPT_UNDER_DASHBOARD = ("dist", "entry.js")

#: ``node <script>``: the chat tab's TUI, pip install or git checkout.
NODE_SCRIPTS: tuple[tuple[str, ...], ...] = (
    ("hermes_cli", "tui_dist", "entry.js"),
    ("ui-tui", "dist", "entry.js"),
)

#: The hermes CLI's first positional word(s) → role; anything else is Role.CLI.
CLI_SUBCOMMANDS: dict[tuple[str, ...], Role] = {
    ("dashboard",): Role.DASHBOARD,
    ("serve",): Role.DASHBOARD,
    ("gateway", "run"): Role.GATEWAY,
}

#: hermes CLI global options that take a separate value (``-p PROFILE``).
CLI_OPTIONS_WITH_VALUE = frozenset({"-p", "--profile", "--config", "--home"})

#: Executable basenames: a Python interpreter, node, or a directly exec'd hermes shim.
PYTHON_EXE = re.compile(r"^(?:[Pp]ython(?:\d+(?:\.\d+)?)?[tw]?(?:\.exe)?|pypy3?)$")
NODE_EXE = re.compile(r"^(?:node(?:\d+)?|nodejs)$")
HERMES_EXE = "hermes"

#: ``%Y%m%d_%H%M%S_`` + 6 hex digits: the state.db session id.
SESSION_KEY = re.compile(r"^\d{8}_\d{6}_[0-9a-f]{6}$")

# CPython interpreter options (see `python --help`). A letter in _PY_VALUE
# takes a value (the rest of the word, or the next word); -c and -m end the
# options. Anything not listed makes the argv "not understood" → not Hermes.
_PY_FLAGS = frozenset("bBdEhiIOPqsSuvVxR")
_PY_VALUE = frozenset("cmWX")
_PY_LONG_WITH_VALUE = frozenset({"--check-hash-based-pycs"})
_PY_LONG_FLAGS = frozenset({"--help-env", "--help-xoptions", "--help-all"})

# node's own option grammar (hermes_top/core/node_options.py, generated from
# node's option parser). These options mean "no script runs as the program":
# code from the command line or stdin, a syntax check, the test runner, a
# package.json script, a watcher that runs the script in a child, help texts.
NODE_NOT_A_SCRIPT = frozenset(
    {
        "-",
        "-e",
        "--eval",
        "-p",
        "--print",
        "-pe",
        "-c",
        "--check",
        "-i",
        "--interactive",
        "--test",
        "--run",
        "--watch",
        "--watch-path",
        "--prof-process",
        "--build-snapshot",
        "--build-snapshot-config",
        "--experimental-sea-config",
        "--entry-url",
        "-h",
        "--help",
        "-v",
        "--version",
        "--v8-options",
        "--completion-bash",
    }
)
#: Flags that also accept ``=value`` (``--inspect=127.0.0.1:9229``), never a separate word.
_NODE_FLAG_WITH_EQ_VALUE = frozenset(
    {"--inspect", "--inspect-brk", "--inspect-wait", "--inspect-brk-node", "--debug", "--debug-brk"}
)
#: V8 options outside node's own table that Hermes installs are known to use.
_V8_EXTRA_OPTIONS = frozenset({"--stack-size"})


# --- Matching ---------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    role: Role
    session_key: str | None = None
    port: int | None = None
    profile: str | None = None
    #: ``hermes serve`` (the desktop app's backend) rather than ``hermes dashboard``.
    desktop: bool = False
    #: The PID an MCP watchdog watches (``--ppid``): when it is gone, so is its reason to run.
    watches: int | None = None


@dataclass(frozen=True)
class _PythonTarget:
    module: str | None
    script: str | None
    args: tuple[str, ...]


def basename(path: str) -> str:
    return path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


def _ends_with(path: str, parts: tuple[str, ...]) -> bool:
    components = tuple(p for p in path.replace("\\", "/").split("/") if p)
    return len(components) >= len(parts) and components[-len(parts) :] == parts


def parse_python_argv(argv: Sequence[str]) -> _PythonTarget | None:
    """What a CPython argv runs: ``-m module`` or a script, and its arguments.

    Returns None for ``-c``, stdin, bare interpreters and options we do not know.
    """
    i = 1
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            i += 1
            break
        if not arg.startswith("-") or arg == "-":
            break
        if arg.startswith("--"):
            name = arg.split("=", 1)[0]
            if name in _PY_LONG_WITH_VALUE:
                i += 1 if "=" in arg else 2
                continue
            if name in _PY_LONG_FLAGS:
                return None
            return None
        # A cluster of short options, e.g. -u, -OO, -Wignore, -X dev, -um mod.
        letters = arg[1:]
        j = 0
        consumed_next = False
        while j < len(letters):
            letter = letters[j]
            if letter in _PY_FLAGS:
                j += 1
                continue
            if letter in _PY_VALUE:
                rest = letters[j + 1 :]
                if rest:
                    value = rest
                else:
                    if i + 1 >= len(argv):
                        return None
                    value = argv[i + 1]
                    consumed_next = True
                if letter == "c":
                    return None
                if letter == "m":
                    after = i + 2 if consumed_next else i + 1
                    return _PythonTarget(module=value, script=None, args=tuple(argv[after:]))
                break  # -W / -X: the value is used up, next word
            return None  # unknown option: do not guess
        i += 2 if consumed_next else 1
    if i >= len(argv) or argv[i] == "-":
        return None
    return _PythonTarget(module=None, script=argv[i], args=tuple(argv[i + 1 :]))


def _node_option_name(arg: str) -> tuple[str, bool]:
    """(normalised option name, has ``=value``). node treats ``_`` in names as ``-``."""
    name, eq, _ = arg.partition("=")
    if name.startswith("--"):
        name = "--" + name[2:].replace("_", "-")
    return name, bool(eq)


def _node_script(argv: Sequence[str]) -> str | None:
    """The script a node argv runs, or None: code, stdin, tools, or an option we
    do not know (its value could be the word we would take for the script)."""
    i = 1
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            return argv[i + 1] if i + 1 < len(argv) else None
        if not arg.startswith("-") or arg == "-":
            return None if arg == "-" else arg
        name, has_value = _node_option_name(arg)
        if name in NODE_NOT_A_SCRIPT:
            return None
        if name in node_options.VALUE_OPTIONS:
            i += 1 if has_value else 2
            continue
        negated = name.startswith("--no-") and (
            "--" + name[5:] in node_options.FLAG_OPTIONS
            or "--" + name[5:] in node_options.V8_OPTIONS
        )
        if name in node_options.FLAG_OPTIONS or negated:
            if has_value and name not in _NODE_FLAG_WITH_EQ_VALUE:
                return None  # a flag given a value is not node's grammar: do not guess
            i += 1
            continue
        if name in node_options.AMBIGUOUS_OPTIONS:
            if not has_value:
                return None  # its next word is the script in some node versions only
            i += 1
            continue
        if name in node_options.V8_OPTIONS or name in _V8_EXTRA_OPTIONS:
            i += 1  # bare or --opt=value: node never takes the next word for V8
            continue
        return None  # an option we do not know: refuse rather than guess
    return None


def _option_value(args: Sequence[str], *names: str) -> str | None:
    for k, arg in enumerate(args):
        for name in names:
            if arg == name and k + 1 < len(args):
                return args[k + 1]
            if arg.startswith(name + "="):
                return arg[len(name) + 1 :]
    return None


def _cli_match(args: Sequence[str]) -> Match:
    """Role of a hermes CLI invocation from its arguments (after the module/script)."""
    positionals: list[str] = []
    k = 0
    while k < len(args) and len(positionals) < 2:
        arg = args[k]
        if arg in CLI_OPTIONS_WITH_VALUE:
            k += 2
            continue
        if not arg.startswith("-"):
            positionals.append(arg)
        k += 1
    role = Role.CLI
    for words, sub_role in CLI_SUBCOMMANDS.items():
        if tuple(positionals[: len(words)]) == words:
            role = sub_role
            break
    port_text = _option_value(args, "--port") if role is Role.DASHBOARD else None
    port = int(port_text) if port_text and port_text.isdigit() and len(port_text) <= 5 else None
    profile = _option_value(args, "-p", "--profile")
    if profile is not None:
        profile = escape_control(profile[:64])
    desktop = role is Role.DASHBOARD and positionals[:1] == ["serve"]
    return Match(role=role, port=port, profile=profile, desktop=desktop)


def _worker_match(role: Role, args: Sequence[str]) -> Match:
    if role is Role.MCP:
        ppid = _option_value(args, "--ppid")
        return Match(
            role=role, watches=int(ppid) if ppid and ppid.isdigit() and len(ppid) < 9 else None
        )
    key = _option_value(args, "--session-key") if role is Role.SLASH_WORKER else None
    if key is not None and not SESSION_KEY.match(key):
        key = escape_control(key[:64])  # keep odd keys visible, but bounded and printable
    return Match(role=role, session_key=key)


def match_argv(argv: Sequence[str]) -> Match | None:
    """The Hermes role of an argv, or None if it is not a Hermes process."""
    if not argv:
        return None
    exe = basename(argv[0])
    if NODE_EXE.match(exe):
        script = _node_script(argv)
        if script and any(_ends_with(script, parts) for parts in NODE_SCRIPTS):
            return Match(role=Role.TUI)
        return None
    if exe == HERMES_EXE:
        return _cli_match(argv[1:])
    if not PYTHON_EXE.match(exe):
        return None
    target = parse_python_argv(argv)
    if target is None:
        return None
    if target.module is not None:
        if target.module not in PYTHON_MODULES:
            return None
        module_role = PYTHON_MODULES[target.module]
        if module_role is None:
            return _cli_match(target.args)
        return _worker_match(module_role, target.args)
    assert target.script is not None
    for parts, script_role in PYTHON_SCRIPTS:
        if _ends_with(target.script, parts):
            if script_role is None:
                return _cli_match(target.args)
            return _worker_match(script_role, target.args)
    return None


def could_be_hermes(name: str) -> bool:
    """Cheap pre-filter on the kernel's process name (comm, at most 15 chars).

    A shebang script's comm is the script's name, so ``hermes`` is included.
    comm is truncated, so the Python pattern is loose on purpose.
    """
    return (
        name.startswith(("python", "Python", "pypy", "node"))
        or name == HERMES_EXE
        or name == "nodejs"
    )


#: Roles whose descendants are shown, and reaped with them (a worker's MCP
#: servers and tools). Not below the gateway or a CLI: what the agent starts
#: there is the user's work, not Hermes plumbing.
DESCENDANT_ROOTS = frozenset(
    {Role.DASHBOARD, Role.TUI, Role.GATEWAY_ENTRY, Role.SLASH_WORKER, Role.MCP}
)


def match_child(parent: Role, argv: Sequence[str]) -> Match:
    """The role of a process below a Hermes process that its argv alone did not match."""
    if parent is Role.DASHBOARD and argv and NODE_EXE.match(basename(argv[0])):
        script = _node_script(argv)
        if script and _ends_with(script, NODE_SCRIPT_UNDER_DASHBOARD):
            return Match(role=Role.TUI)
    if parent is Role.MCP:
        return Match(role=Role.MCP)  # the server command the watchdog runs
    return Match(role=Role.CHILD)


# --- What each Hermes version does (measured on the real 0.13.0 and 0.19.0) ---


@dataclass(frozen=True)
class VersionFacts:
    """Behaviour of one range of hermes-agent versions that verdicts rely on."""

    #: The dashboard answers ``session.active_list`` over /api/ws (0.15+).
    lists_sessions: bool
    #: Once an abandoned worker is reaped, the dashboard closes its 3 pipe ends.
    #: 0.13 keeps the Popen (and its pipes) forever: the worker stays a zombie.
    reap_frees_pipes: bool
    #: A closed tab's node and worker are kept on purpose for this long (0.18.2+).
    keepalive_s: float | None
    #: Inbound connections a tab open in a browser holds (pty, ws, events).
    browser_connections_per_tab: int
    #: FDs a freshly started dashboard holds, idle (measured: 0.13.0 14, 0.19.0 8).
    idle_fds: int | None = None


#: (first version, facts), newest last. Measured on 0.13.0 and 0.19.0; 0.14 is
#: read from its source as 0.13, 0.15-0.18 as 0.19 for the session list (the
#: keep-alive came in 0.18.2). That a reap frees pipes is claimed only where it
#: was measured (0.19): elsewhere a restart is named as the remedy instead.
VERSION_FACTS: tuple[tuple[tuple[int, ...], VersionFacts], ...] = (
    ((0, 0), VersionFacts(False, False, None, 3, idle_fds=14)),
    ((0, 15), VersionFacts(True, False, None, 3)),
    ((0, 18, 2), VersionFacts(True, False, 1800.0, 3)),
    ((0, 19), VersionFacts(True, True, 1800.0, 3, idle_fds=8)),
)
#: When the version is unknown: ask for the session list, promise no freed FDs.
UNKNOWN_VERSION_FACTS = VersionFacts(True, False, None, 3)
#: A worker younger than this is never judged abandoned (it may be starting:
#: workers appear ~2.3 s after their tab, the session list can lag).
ABANDON_MIN_AGE_S = 60.0
#: On versions without a session list, a dashboard child worker belongs to the
#: open tab whose node started at most this long before it (measured: ~2.3 s).
TAB_WORKER_WINDOW_S = 15.0
#: SQLite handles of one database a dashboard normally holds (a few connections
#: x db, -wal, -shm); far more means the dashboard leaks its own handles.
SQLITE_HANDLES_NORMAL = 12
_VERSION = re.compile(r"^(\d{1,4})\.(\d{1,4})(?:\.(\d{1,4}))?")


def parse_version(text: str | None) -> tuple[int, ...] | None:
    m = _VERSION.match(text or "")
    if m is None:
        return None
    return tuple(int(part) for part in m.groups() if part is not None)


def facts_for(version: str | None) -> VersionFacts:
    parsed = parse_version(version)
    if parsed is None:
        return UNKNOWN_VERSION_FACTS
    chosen = VERSION_FACTS[0][1]
    for first, facts in VERSION_FACTS:
        if parsed >= first:
            chosen = facts
    return chosen
