"""The throwaway Hermes package tree the simulated processes run from.

The fake package is real files in ``fake_hermes/`` next to this module
(stdlib-only Python and a little JavaScript, linted and type-checked like the
rest), copied into the simulation's temporary root, so every process's argv
has the real shape (``<python> -m tui_gateway.slash_worker --session-key ...``)
and names the root, which is how a simulation recognises its own processes.

Protocol (line-JSON, one request, one reply):
  test process  -> dashboard      on the dashboard's stdin/stdout
  dashboard     -> node (tui)     on the tab's stdin/stdout pipes, relayed by node
  node          -> gateway entry  the same pipes, passed through
  parent        -> slash worker   the worker prints one ``ready`` line; ``exit`` ends it
Every process reports ``{"pid", "st"}`` (st = start time in clock ticks from
/proc/PID/stat) so the test process can pin it by identity before trusting it.
"""

from __future__ import annotations

import os
import sys
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

#: The fake package, shipped as package data of hermes_top.sim.
SOURCE = files("hermes_top.sim") / "fake_hermes"
#: What the tree is made of; anything else there (``__pycache__``) is not copied.
SUFFIXES = (".py", ".js")


def source_files() -> list[tuple[str, Traversable]]:
    """(path relative to the root, file) of every file of the fake package."""
    found: list[tuple[str, Traversable]] = []

    def walk(top: Traversable, rel: str) -> None:
        for item in sorted(top.iterdir(), key=lambda t: t.name):
            if item.is_dir():
                if item.name != "__pycache__":
                    walk(item, f"{rel}{item.name}/")
            elif item.name.endswith(SUFFIXES):
                found.append((f"{rel}{item.name}", item))

    walk(SOURCE, "")
    return found


def write_tree(root: Path, interpreter: str, version: str) -> Path:
    """Copy the fake packages under ``root``, add ``root/venv/bin/python3``; return the latter.

    Everything is world-readable (dirs 0755, files 0644) so a process running
    as another user (the ``other_user_orphan`` leak) can import it.
    """
    os.chmod(root, 0o755)
    for rel, source in source_files():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        path.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
        path.chmod(0o644)
    python = root / "venv" / "bin" / "python3"
    python.parent.mkdir(parents=True, mode=0o755)
    python.symlink_to(interpreter)
    # The version it behaves like, where an installed hermes-agent would say it.
    lib = f"python{sys.version_info.major}.{sys.version_info.minor}"
    info = root / "venv" / "lib" / lib / "site-packages" / f"hermes_agent-{version}.dist-info"
    info.mkdir(parents=True, mode=0o755)
    (info / "METADATA").write_text(f"Name: hermes-agent\nVersion: {version}\n", encoding="utf-8")
    # A pyvenv.cfg makes it a real (empty) venv, like a Hermes install: without
    # it every simulated Python would also load the base interpreter's
    # site-packages .pth files, which can cost more than the process itself.
    (root / "venv" / "pyvenv.cfg").write_text(
        f"home = {os.path.dirname(interpreter)}\ninclude-system-site-packages = false\n",
        encoding="utf-8",
    )
    # Without node, the zombie tui is a Python that exits at once; a symlink
    # named ``node`` keeps its comm (what ps shows for a zombie) right.
    fake_node = root / "fakebin" / "node"
    fake_node.parent.mkdir(mode=0o755)
    fake_node.symlink_to(interpreter)
    for d in root.rglob("*"):
        if d.is_dir() and not d.is_symlink():
            d.chmod(0o755)  # whatever the umask said
    return python
