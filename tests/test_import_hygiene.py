"""The core (and the CLI's list/reap command) must not drag textual in."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROBE = """
import importlib, json, pkgutil, sys
import hermes_top.core
names = ["hermes_top.core"]
names += [m.name for m in pkgutil.walk_packages(hermes_top.core.__path__, "hermes_top.core.")]
names += ["hermes_top.commands.procs", "hermes_top.sim"]
for name in names:
    importlib.import_module(name)
textual = sorted(m for m in sys.modules if m == "textual" or m.startswith("textual."))
print(json.dumps({"imported": names, "textual": textual}))
"""


def test_core_imports_without_textual() -> None:
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=root, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert "hermes_top.core.model" in report["imported"]
    assert len(report["imported"]) > 5
    assert report["textual"] == []


FIRST_PAINT_PROBE = """
import json, sys
from hermes_top.cli import build_parser
build_parser([])
import hermes_top.commands.wiring, hermes_top.tui.first_scan, hermes_top.tui.app
print(json.dumps(sorted(sys.modules)))
"""


def test_the_first_paint_imports_no_dialog_no_recovery_no_command() -> None:
    """What the TUI imports before its first frame: dialogs, the recovery flow and
    the other commands are imported when first used (each costs the first paint)."""
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, "-c", FIRST_PAINT_PROBE],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    modules = set(json.loads(out.stdout))
    assert "hermes_top.tui.app" in modules and "textual.app" in modules
    late = {"hermes_top.core.recovery", "hermes_top.service", "hermes_top.sim"}
    late |= {m for m in modules if m.startswith("hermes_top.tui.screens.")}
    late |= {
        m
        for m in modules
        if m.startswith("hermes_top.commands.")
        and m
        not in (
            "hermes_top.commands.ui",
            "hermes_top.commands.wiring",
        )
    }
    assert not late & modules, sorted(late & modules)
