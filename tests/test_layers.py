"""Imports go one way (see ARCHITECTURE.md): core at the bottom, then view and
service, then tui, then commands. Checked on the source, so a lazy import
inside a function counts as much as one at the top of a file."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "hermes_top"

#: layer -> the hermes_top layers it may import (itself always allowed).
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "view": {"core"},
    "service": {"core"},
    "testing": {"core", "view"},
    "sim": {"core"},
    "tui": {"core", "view"},
    "commands": {"core", "view", "service", "tui", "sim", "testing"},
}
#: Third-party packages a layer must never import.
FORBIDDEN_THIRD_PARTY = {"core": {"textual", "rich"}, "view": {"textual"}, "service": {"textual"}}


def _layer(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_imports_follow_the_layers() -> None:
    wrong: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        layer = _layer(path)
        if layer not in ALLOWED:
            continue  # cli.py, __main__.py: the top
        for name in _imports(path):
            parts = name.split(".")
            if parts[0] == "hermes_top" and len(parts) > 1:
                target = parts[1]
                if target != layer and target in ALLOWED and target not in ALLOWED[layer]:
                    wrong.append(f"{path.relative_to(PACKAGE)} imports {name}")
            elif parts[0] in FORBIDDEN_THIRD_PARTY.get(layer, set()):
                wrong.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert not wrong, "\n".join(wrong)


def test_every_package_is_in_a_layer() -> None:
    packages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages <= set(ALLOWED), packages - set(ALLOWED)
