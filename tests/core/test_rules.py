"""The argv matching table: real shapes match, bait never does."""

from __future__ import annotations

import pytest

from hermes_top.core.model import Role
from hermes_top.core.rules import match_argv, parse_python_argv

VENV = "/Users/u/.hermes/venv"
SITE = f"{VENV}/lib/python3.11/site-packages"

REAL_SHAPES: list[tuple[list[str], Role, dict[str, object]]] = [
    (
        [f"{VENV}/bin/python3", f"{VENV}/bin/hermes", "dashboard", "--port", "9119", "--no-open"],
        Role.DASHBOARD,
        {"port": 9119},
    ),
    (
        [
            "python3",
            "-m",
            "hermes_cli.main",
            "-p",
            "work",
            "dashboard",
            "--port",
            "9120",
            "--host",
            "127.0.0.1",
        ],
        Role.DASHBOARD,
        {"port": 9120, "profile": "work"},
    ),
    (["python3", "-m", "hermes_cli.main", "serve", "--port=9150"], Role.DASHBOARD, {"port": 9150}),
    (
        [
            "/usr/bin/python3.11",
            "-m",
            "hermes_cli.main",
            "dashboard",
            "--no-open",
            "--tui",
            "--host",
            "127.0.0.1",
            "--port",
            "9121",
        ],
        Role.DASHBOARD,
        {"port": 9121},
    ),
    (["python3", "/opt/hermes/hermes_cli/main.py", "dashboard"], Role.DASHBOARD, {}),
    (
        ["python3", "-m", "hermes_cli.main", "--profile", "x", "gateway", "run", "--replace"],
        Role.GATEWAY,
        {"profile": "x"},
    ),
    (["python3", "-m", "hermes_cli.main", "gateway", "status"], Role.CLI, {}),
    ([f"{VENV}/bin/python3", f"{VENV}/bin/hermes", "--tui"], Role.CLI, {}),
    (["node", "--expose-gc", f"{SITE}/hermes_cli/tui_dist/entry.js"], Role.TUI, {}),
    (["/usr/local/bin/node", "--expose-gc", "/src/hermes/ui-tui/dist/entry.js"], Role.TUI, {}),
    (["python3", "-m", "tui_gateway.entry"], Role.GATEWAY_ENTRY, {}),
    (
        ["node", "--inspect-port", "9229", "--expose-gc", f"{SITE}/hermes_cli/tui_dist/entry.js"],
        Role.TUI,
        {},
    ),
    (
        ["python3", "-u", "-X", "utf8", "-W", "ignore", "-m", "tui_gateway.entry"],
        Role.GATEWAY_ENTRY,
        {},
    ),
    (
        ["python3", "-m", "tui_gateway.slash_worker", "--session-key", "20260527_141503_a1b2c3"],
        Role.SLASH_WORKER,
        {"session_key": "20260527_141503_a1b2c3"},
    ),
    (
        [
            "python3",
            "-m",
            "tui_gateway.slash_worker",
            "--session-key",
            "20261127_224543_fc19df",
            "--model",
            "dummy-model",
        ],
        Role.SLASH_WORKER,
        {"session_key": "20261127_224543_fc19df"},
    ),
    (
        [
            "python3",
            "-Xdev",
            "-um",
            "tui_gateway.slash_worker",
            "--session-key=20260101_000000_abcdef",
        ],
        Role.SLASH_WORKER,
        {"session_key": "20260101_000000_abcdef"},
    ),
    (
        [
            "/Library/Frameworks/Python.framework/Versions/3.11/Resources/Python.app/Contents/MacOS/Python",
            "-m",
            "tui_gateway.slash_worker",
            "--session-key",
            "20260527_141503_a1b2c3",
        ],
        Role.SLASH_WORKER,
        {},
    ),
]

BAIT = [
    ["grep", "tui_gateway.slash_worker"],
    ["grep", "-f", "hermes dashboard"],
    ["tail", "-f", "/x/tui_gateway/slash_worker.py"],
    ["vim", "tui_gateway/slash_worker.py"],
    ["python3", "-c", "import os", "-m", "tui_gateway.slash_worker"],
    ["python3", "-c", "pass; -m tui_gateway.slash_worker"],
    ["sh", "-c", "sleep 1; python -m tui_gateway.slash_worker"],
    ["bash", "-c", "python3 -m hermes_cli.main dashboard"],
    ["python3", "script.py", "-m", "tui_gateway.slash_worker"],
    ["python3", "-m", "pytest", "-k", "tui_gateway.slash_worker"],
    ["python3", "-m", "tui_gateway.slash_worker_tests"],
    ["python3", "/tmp/not_tui_gateway/slash_worker.py"],
    ["node", "-e", "require('/x/hermes_cli/tui_dist/entry.js')"],
    ["node", "/x/other/entry.js"],
    ["node", "--require", "/x/hermes_cli/tui_dist/entry.js", "/x/app.js"],
    ["python3"],
    ["python3", "-"],
    ["python3", "--unknown-option", "-m", "tui_gateway.entry"],
    ["less", "/x/hermes_cli/tui_dist/entry.js"],
    [],
]


@pytest.mark.parametrize(("argv", "role", "extra"), REAL_SHAPES)
def test_real_shapes_match(argv: list[str], role: Role, extra: dict[str, object]) -> None:
    match = match_argv(argv)
    assert match is not None, argv
    assert match.role is role
    for key, value in extra.items():
        assert getattr(match, key) == value


@pytest.mark.parametrize("argv", BAIT)
def test_bait_never_matches(argv: list[str]) -> None:
    assert match_argv(argv) is None


def test_interpreter_options_are_parsed_not_skipped() -> None:
    # -W takes a value: "-m" here is -W's argument? No: -W's value is "ignore".
    target = parse_python_argv(["python3", "-W", "ignore", "-m", "tui_gateway.entry", "x"])
    assert target is not None
    assert target.module == "tui_gateway.entry"
    assert target.args == ("x",)
    # -X's value can be the next word, so the module is not "-m".
    target = parse_python_argv(["python3", "-X", "-m", "script.py"])
    assert target is not None
    assert target.module is None
    assert target.script == "script.py"
