"""`guard install|uninstall|status`: a plist plistlib reads, a unit systemd-analyze
accepts, files written as `doctor --fix` writes them — all under tmp_path."""

from __future__ import annotations

import contextlib
import io
import json
import os
import pathlib
import plistlib
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass

import pytest

from hermes_top.cli import main
from hermes_top.service.guard_install import GUARD_LABEL, GUARD_UNIT
from tests.services.helpers import FAKE

STUB_SYSTEMCTL = pathlib.Path(__file__).with_name("stub_systemctl.py")


@dataclass
class Stubs:
    bin_dir: pathlib.Path
    state: pathlib.Path
    log: pathlib.Path

    def calls(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def home(_isolated: pathlib.Path) -> pathlib.Path:
    return _isolated


@pytest.fixture
def stubs(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> Stubs:
    bin_dir = tmp_path / "stub-bin"
    bin_dir.mkdir()
    for name, source in (("launchctl", FAKE), ("systemctl", STUB_SYSTEMCTL)):
        exe = bin_dir / name
        exe.write_text(f"#!{sys.executable}\n{source.read_text()}")
        exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    state = tmp_path / "stub-state.json"
    state.write_text(
        json.dumps(
            {"launchd": {"services": {}, "maxfiles": [256, "unlimited"]}, "systemd": {"units": {}}}
        )
    )
    log = tmp_path / "stub-calls.jsonl"
    monkeypatch.setenv("HERMES_TOP_STUB_STATE", str(state))
    monkeypatch.setenv("HERMES_TOP_STUB_LOG", str(log))
    monkeypatch.setenv("PATH", str(bin_dir))
    return Stubs(bin_dir, state, log)


def _file_part(out: str) -> str:
    """The file a dry run prints: between "# would write" and "# then run"."""
    lines = out.splitlines(keepends=True)
    assert lines[0].startswith("# would write ")
    end = next(i for i, line in enumerate(lines) if line.startswith("# then run: "))
    return "".join(lines[1:end])


def test_dry_run_prints_a_plist_plistlib_reads(home: pathlib.Path) -> None:
    code, out, _ = _run(
        "guard", "install", "--dry-run", "--manager", "launchd", "--interval", "45", "--recover"
    )
    assert code == 0
    plist = plistlib.loads(_file_part(out).encode())
    assert plist["Label"] == GUARD_LABEL
    assert plist["KeepAlive"] is True and plist["RunAtLoad"] is True
    args = plist["ProgramArguments"]
    assert args[0] == os.path.abspath(sys.executable) and args[1:3] == ["-m", "hermes_top"]
    assert args[3:] == ["guard", "--interval", "45", "--min-age", "600", "--recover"]
    log = home / "Library" / "Logs" / "hermes-top" / "guard.log"
    assert plist["StandardOutPath"] == plist["StandardErrorPath"] == str(log)
    assert f"would write {home}/Library/LaunchAgents/{GUARD_LABEL}.plist" in out
    assert "launchctl bootstrap gui/" in out
    assert not (home / "Library").exists(), "a dry run wrote something"


def test_warn_only_install_runs_the_readonly_guard(home: pathlib.Path) -> None:
    code, out, _ = _run("guard", "install", "--dry-run", "--manager", "launchd", "--warn-only")
    assert code == 0
    args = plistlib.loads(_file_part(out).encode())["ProgramArguments"]
    assert args[3:5] == ["--readonly", "guard"]


def _systemd_verify(unit: pathlib.Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_dry_run_prints_a_unit_systemd_accepts(home: pathlib.Path, tmp_path: pathlib.Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed here")
    code, out, _ = _run("guard", "install", "--dry-run", "--manager", "systemd")
    assert code == 0
    text = _file_part(out)
    assert "Restart=always" in text and "WantedBy=default.target" in text
    unit = tmp_path / "verify" / GUARD_UNIT
    unit.parent.mkdir()
    unit.write_text(text)
    result = _systemd_verify(unit)
    if "Failed to initialize manager" in result.stderr and result.returncode != 0:
        # The check itself cannot run (no manager to load units into): say so.
        probe = tmp_path / "verify" / "probe.service"
        probe.write_text("[Service]\nExecStart=/bin/true\n")
        if _systemd_verify(probe).returncode != 0:
            pytest.skip(f"systemd-analyze verify cannot run here: {result.stderr.strip()}")
    assert result.returncode == 0, result.stderr
    # The same check rejects a broken unit: it is not a check that always passes.
    broken = tmp_path / "verify" / "broken.service"
    broken.write_text(text.replace("ExecStart=", "ExecStart=not-absolute-"))
    assert _systemd_verify(broken).returncode != 0
    assert not (home / ".config" / "systemd").exists()


def test_install_status_uninstall_launchd(home: pathlib.Path, stubs: Stubs) -> None:
    code, out, err = _run("guard", "install", "--manager", "launchd")
    assert code == 0, err
    path = home / "Library" / "LaunchAgents" / f"{GUARD_LABEL}.plist"
    assert f"{path}: created" in out
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert plistlib.loads(path.read_bytes())["Label"] == GUARD_LABEL
    assert (home / "Library" / "Logs" / "hermes-top").is_dir()
    assert ["launchctl", "bootstrap", f"gui/{os.getuid()}", str(path)] in stubs.calls()
    # Again: same bytes, already loaded: nothing rewritten, nothing reloaded.
    before = len(stubs.calls())
    code, out, _ = _run("guard", "install", "--manager", "launchd")
    assert code == 0 and "unchanged" in out and "already installed and loaded" in out
    assert not any(c[1] in ("bootout", "bootstrap") for c in stubs.calls()[before:])
    code, out, _ = _run("guard", "status", "--manager", "launchd")
    assert code == 0 and "installed" in out and "PID" in out
    # Someone edited it: uninstall keeps a backup of their version.
    edited = plistlib.loads(path.read_bytes())
    edited["Nice"] = 5
    path.write_bytes(plistlib.dumps(edited))
    code, out, err = _run("guard", "uninstall", "--manager", "launchd")
    assert code == 0, err
    assert f"{path}: removed" in out and "backup" in out
    assert not path.exists()
    backups = list(path.parent.glob(f"{GUARD_LABEL}.plist.hermes-top-*.bak"))
    assert len(backups) == 1 and plistlib.loads(backups[0].read_bytes())["Nice"] == 5
    assert any(c[1] == "bootout" for c in stubs.calls())
    code, out, _ = _run("guard", "status", "--manager", "launchd")
    assert code == 1 and "not installed" in out


def test_install_status_uninstall_systemd(home: pathlib.Path, stubs: Stubs) -> None:
    stubs.state.write_text("{}")
    code, out, err = _run("guard", "install", "--manager", "systemd", "--min-age", "120")
    assert code == 0, err
    path = home / ".config" / "systemd" / "user" / GUARD_UNIT
    assert "--min-age 120" in path.read_text()
    verbs = [c[2] for c in stubs.calls()]
    assert verbs == ["daemon-reload", "enable", "restart"]
    code, out, _ = _run("guard", "status", "--manager", "systemd")
    assert code == 0 and "state: active" in out
    code, out, err = _run("guard", "uninstall", "--manager", "systemd")
    assert code == 0, err
    assert not path.exists() and "backup" not in out  # it was ours, unchanged
    assert [c[2] for c in stubs.calls()][-2:] == ["disable", "daemon-reload"]


def test_install_never_follows_a_link_at_the_service_path(
    home: pathlib.Path, stubs: Stubs, tmp_path: pathlib.Path
) -> None:
    folder = home / "Library" / "LaunchAgents"
    folder.mkdir(parents=True)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    (folder / f"{GUARD_LABEL}.plist").symlink_to(victim)
    code, _, err = _run("guard", "install", "--manager", "launchd")
    assert code != 0
    assert "symbolic link" in err and err.count("\n") == 1
    assert victim.read_text() == "keep me\n"
    assert not any(c[1] == "bootstrap" for c in stubs.calls())


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a folder to another user")
def test_install_refuses_another_users_home(home: pathlib.Path, stubs: Stubs) -> None:
    folder = home / ".config" / "systemd" / "user"
    folder.mkdir(parents=True)
    os.chown(folder, 65534, 65534)
    code, _, err = _run("guard", "install", "--manager", "systemd")
    assert code != 0 and "belongs to uid 65534" in err
    assert list(folder.iterdir()) == []


def test_readonly_refuses_install_but_allows_its_dry_run(home: pathlib.Path) -> None:
    code, _, err = _run("--readonly", "guard", "install", "--manager", "systemd")
    assert code == 2 and "read-only" in err
    code, out, _ = _run("--readonly", "guard", "install", "--dry-run", "--manager", "systemd")
    assert code == 0 and "ExecStart=" in out
