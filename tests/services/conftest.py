"""Shared fixtures: an isolated home, and stub launchctl/systemctl on $PATH.

Every test in this package runs with HOME, XDG_CONFIG_HOME and TMPDIR pointing into
its own tmp dir, so nothing here can read or change this machine's LaunchAgents,
systemd user units or temp files.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import stat
import sys

import pytest

from tests.services.helpers import FAKE, Home, Tools


@pytest.fixture(autouse=True)
def home(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> Home:
    root = tmp_path / "home"
    h = Home(
        root,
        root / "Library" / "LaunchAgents",
        root / ".config" / "systemd" / "user",
        tmp_path / "tmpdir",
    )
    for d in (h.launch_agents, h.systemd_user, h.tmp):
        d.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(root))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(root / ".config"))
    monkeypatch.setenv("TMPDIR", str(h.tmp))
    monkeypatch.delenv("HERMES_TOP_CONFIG", raising=False)
    # No real launchctl/systemctl unless a test installs the stubs.
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    return h


@pytest.fixture
def tools(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> Tools:
    bin_dir = tmp_path / "stub-bin"
    bin_dir.mkdir()
    source = FAKE.read_text()
    for name in ("launchctl", "systemctl"):
        exe = bin_dir / name
        exe.write_text(f"#!{sys.executable}\n{source}")
        exe.chmod(exe.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    state = tmp_path / "stub-state.json"
    state.write_text(
        json.dumps(
            {
                "launchd": {"services": {}, "maxfiles": [256, "unlimited"]},
                "systemd": {"units": {}},
            }
        )
    )
    log = tmp_path / "stub-calls.jsonl"
    monkeypatch.setenv("HERMES_TOP_STUB_STATE", str(state))
    monkeypatch.setenv("HERMES_TOP_STUB_LOG", str(log))
    monkeypatch.setenv("PATH", str(bin_dir))
    assert shutil.which("launchctl") == str(bin_dir / "launchctl")
    return Tools(bin_dir, state, log)


@pytest.fixture
def uid() -> int:
    return os.getuid()
