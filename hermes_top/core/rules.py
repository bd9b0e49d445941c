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
)

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

# node options that take a separate value; -e/-p/--eval/--print run code, not a script.
_NODE_WITH_VALUE = frozenset(
    {
        "-r",
        "--require",
        "--import",
        "--loader",
        "--experimental-loader",
        "-C",
        "--conditions",
        "--inspect-port",
        "--title",
    }
)
_NODE_CODE = frozenset({"-e", "--eval", "-p", "--print", "-i", "--interactive", "-"})


# --- Matching ---------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    role: Role
    session_key: str | None = None
    port: int | None = None
    profile: str | None = None


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


def _node_script(argv: Sequence[str]) -> str | None:
    i = 1
    while i < len(argv):
        arg = argv[i]
        if arg in _NODE_CODE or arg.split("=", 1)[0] in _NODE_CODE:
            return None
        if arg == "--":
            return argv[i + 1] if i + 1 < len(argv) else None
        if arg.startswith("-"):
            i += 2 if arg in _NODE_WITH_VALUE else 1
            continue
        return arg
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
    port = int(port_text) if port_text and port_text.isdigit() else None
    profile = _option_value(args, "-p", "--profile")
    return Match(role=role, port=port, profile=profile)


def _worker_match(role: Role, args: Sequence[str]) -> Match:
    key = _option_value(args, "--session-key") if role is Role.SLASH_WORKER else None
    if key is not None and not SESSION_KEY.match(key):
        key = key[:64]  # keep odd keys visible, but bounded
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
