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
