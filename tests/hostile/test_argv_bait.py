"""A Hermes path in an option's value is not the script a process runs.

Before: ``node --watch-path /x/hermes_cli/tui_dist/entry.js /x/app.js`` (and
the same with any node option taking a value that the table did not list)
was listed as an orphaned chat tab, and ``reap`` SIGTERMed it.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hermes_top.core import node_options
from hermes_top.core.engine import Core
from hermes_top.core.model import Role
from hermes_top.core.rules import NODE_NOT_A_SCRIPT, match_argv
from hermes_top.sim.tracking import start_ticks
from tests.harness import REGISTRY, kill_exact

ROOT = Path(__file__).resolve().parents[2]
TUI = "/opt/h/lib/python3.11/site-packages/hermes_cli/tui_dist/entry.js"
APP = "/srv/app/server.js"
NODE = shutil.which("node")


@pytest.mark.parametrize("option", sorted(node_options.VALUE_OPTIONS))
def test_every_value_option_of_node_takes_its_value(option: str) -> None:
    if option in NODE_NOT_A_SCRIPT:
        return  # they mean "no script" anyway (covered below)
    assert match_argv(["node", option, TUI, APP]) is None
    if option.startswith("--"):
        # With "=value" the next word is the script again.
        assert match_argv(["node", f"{option}=x", TUI]) is not None


@pytest.mark.parametrize(
    "argv",
    [
        ["node", "-e", "require('x')", TUI],
        ["node", "--eval=1", TUI],
        ["node", "-p", "1", TUI],
        ["node", "-c", TUI],
        ["node", "--check", TUI],
        ["node", "--test", TUI],
        ["node", "--run", "start", TUI],
        ["node", "--watch", TUI],
        ["node", "--watch-path=/x", TUI],
        ["node", "-i", TUI],
        ["node", "-", TUI],
        ["node", "--prof-process", TUI],
        ["node", "--inspect", "9229", TUI],  # --inspect takes no separate value: 9229 is the script
        ["node", "--max-old-space-size", "4096", TUI],  # V8 options: the same
        ["node", "--some-future-option", TUI],  # unknown: refuse rather than guess
        ["node", "--enable-source-maps=1", TUI],  # a flag given a value: not node's grammar
        ["node", "--stack-trace-limit", "app.js", TUI],  # node 20: app.js is the script
        ["node", "inspect", TUI],  # the debugger, not the tab
        ["grep", "-r", TUI],
        ["vim", TUI],
        ["python3", "-c", "pass", "-m", "tui_gateway.slash_worker"],
        ["python3", "-W", "-m", "tui_gateway.slash_worker", "x.py"],
        ["python3", "--unknown", "-m", "tui_gateway.slash_worker"],
    ],
)
def test_bait_is_not_matched(argv: list[str]) -> None:
    assert match_argv(argv) is None


@pytest.mark.parametrize(
    "argv",
    [
        ["node", "--expose-gc", TUI],
        ["node", "--max-old-space-size=4096", "--no-warnings", TUI],
        ["node", "--max_old_space_size=4096", TUI],  # node reads _ as -
        ["node", "--stack-trace-limit=50", TUI],
        ["node", "--inspect=127.0.0.1:9229", TUI],
        ["node", "--title", "hermes tab", TUI],
        ["node", "-r", "/opt/preload.js", TUI],
        ["node", "--", TUI],
    ],
)
def test_real_tab_shapes_still_match(argv: list[str]) -> None:
    found = match_argv(argv)
    assert found is not None and found.role is Role.TUI


def _load_generator() -> object:
    spec = importlib.util.spec_from_file_location(
        "node_option_table", ROOT / "scripts" / "node_option_table.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(NODE is None, reason="no node on PATH")
def test_option_table_covers_the_installed_node() -> None:
    """Every option this machine's node knows is in the table with the right kind."""
    gen = _load_generator()
    table = gen.dump(NODE)  # type: ignore[attr-defined]
    value_types = gen.VALUE_TYPES  # type: ignore[attr-defined]
    missing = []
    for name, kind in table["options"].items():
        if not name.startswith("-"):
            continue
        if kind in value_types:
            ok = name in node_options.VALUE_OPTIONS
        elif kind == "kV8Option":
            ok = name in node_options.V8_OPTIONS or name in node_options.FLAG_OPTIONS
        else:
            ok = name in node_options.FLAG_OPTIONS
        ok = ok or name in node_options.AMBIGUOUS_OPTIONS
        if not ok:
            missing.append((name, kind))
    assert not missing, f"regenerate hermes_top/core/node_options.py: {missing}"


@pytest.mark.skipif(NODE is None or not sys.platform.startswith("linux"), reason="needs node")
@pytest.mark.parametrize("option", ["--env-file", "-r", "--require", "--title"])
def test_a_running_bait_process_is_not_listed(tmp_path: Path, option: str) -> None:
    """Real processes: node runs app.js; entry.js is only an option's value."""
    tui = tmp_path / "site-packages" / "hermes_cli" / "tui_dist" / "entry.js"
    tui.parent.mkdir(parents=True)
    tui.write_text("\n")  # a valid empty module and an empty env file
    app = tmp_path / "app.js"
    app.write_text("setInterval(() => {}, 1000);\n")
    value = str(tui) if option != "--title" else "x"
    argv = [NODE, option, value, str(app)] if option != "--title" else [NODE, option, value]
    if option == "--title":
        argv += ["--env-file", str(tui), str(app)]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    start = start_ticks(proc.pid)
    assert start is not None
    REGISTRY.register_identity(proc.pid, start, "node bait")
    try:
        time.sleep(0.5)
        assert proc.poll() is None, "the bait process did not start"
        core = Core(scope=lambda p: p.pid == proc.pid, pin=False)
        snap = core.scan()
        assert snap.get(proc.pid) is None, f"{argv} was taken for a Hermes process"
    finally:
        kill_exact(proc.pid, start)
        proc.wait(timeout=10)
