"""Hostile input to status/restart/doctor: config files, plists, numbers, names,
and what launchctl/systemctl print. Each gets one ``hermes-top: error:`` line
and a non-zero exit, or is ignored — never a traceback, a hang, an option
smuggled into a command, or a signal/restart based on it.

Every test here failed before the fix it covers.
"""

from __future__ import annotations

import json
import os
import pathlib
import plistlib
import resource
import subprocess
import sys

import pytest

from hermes_top.cli import main
from hermes_top.service import doctor
from tests.services import conftest as services
from tests.services.helpers import Home, Tools
from tests.services.plist_samples import limits, read_plist, rich_agent, write_plist
from tests.services.svc_snapshots import snapshot

# The service tests' fixtures: an isolated home (autouse) and stub launchctl/systemctl.
home = services.home
tools = services.tools

ROOT = pathlib.Path(__file__).resolve().parents[2]
LABEL = "ai.hermes.dashboard"
UNIT = "hermes-dashboard.service"


@pytest.fixture(autouse=True)
def quiet_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    """doctor must not see this shared machine's real Hermes processes."""
    monkeypatch.setattr(doctor, "default_snapshot_provider", lambda: snapshot())
    monkeypatch.setattr(doctor, "live_tui_references", lambda: doctor.TuiReferences(frozenset()))


def one_error(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """Run the CLI in-process: it must return (not raise) and print one error line."""
    code = main(list(argv))
    err = capsys.readouterr().err
    assert code != 0, err
    assert err.startswith("hermes-top: error: ") and err.count("\n") == 1, err
    return code, err


def run_cli(*argv: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """The CLI as a process, bounded in time and memory (a FIFO or /dev/zero
    config made the unfixed code hang or read forever)."""

    def bound() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    return subprocess.run(
        [sys.executable, "-m", "hermes_top", *argv],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=bound,
    )


def _config(home: Home, monkeypatch: pytest.MonkeyPatch, content: bytes) -> pathlib.Path:
    path = home.root / "config.toml"
    path.write_bytes(content)
    monkeypatch.setenv("HERMES_TOP_CONFIG", str(path))
    return path


# -- config files ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b'[service]\nlabel = "ai.hermes\\u0000x"\n', "control characters"),
        (b'[service]\nunit = "hermes\\u0000.service"\n', "control characters"),
        (b'[service]\nlaunch_agents_dir = "/tmp/a\\u0000b"\n', "control characters"),
        (b'[service]\ntemp_dir = "/tmp/a\\nb"\n', "control characters"),
        (b"[service]\nlabel = '\xff\xfe'\n", "not UTF-8"),
        (b"\xef\xbb\xbf[service\n", "cannot parse config file"),
        (b"[limits]\nsoft = 99999999999999999999999\n", "must be from 1 to"),
        (b"[limits]\nhard = 9223372036854775807\n", "must be from 1 to"),
        (b"[limits]\nsoft = 0\n", "must be from 1 to"),
        (b'[service]\nunit = "-H.evil"\n', "invalid systemd unit name"),
        (b'[service]\nlabel = "-evil"\n', "invalid launchd label"),
    ],
)
def test_bad_config_is_one_line_and_nothing_runs(
    home: Home,
    tools: Tools,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    content: bytes,
    words: str,
) -> None:
    """Before: a NUL reached launchctl (ValueError traceback), non-UTF-8 raised
    UnicodeDecodeError, a huge limit passed, "-H.evil" reached systemctl."""
    tools.add_unit(UNIT, ActiveState="active", MainPID="10")
    tools.add_agent(LABEL, 4242)
    _config(home, monkeypatch, content)
    for argv in (("status",), ("restart", "--yes"), ("doctor", "--fix")):
        _, err = one_error(capsys, *argv)
        assert words in err
    assert tools.calls() == []


def test_config_that_is_a_fifo_is_refused_without_hanging(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = home.root / "config.toml"
    os.mkfifo(path)
    monkeypatch.setenv("HERMES_TOP_CONFIG", str(path))
    done = run_cli("status")
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("hermes-top: error: cannot read config file")
    assert "FIFO" in done.stderr and done.stderr.count("\n") == 1


def test_config_linked_to_dev_zero_is_refused(home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    path = home.root / "config.toml"
    path.symlink_to("/dev/zero")
    monkeypatch.setenv("HERMES_TOP_CONFIG", str(path))
    done = run_cli("status")
    assert done.returncode == 1, done.stderr
    assert "character device" in done.stderr and done.stderr.count("\n") == 1


def test_huge_config_is_refused(home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    _config(home, monkeypatch, b"# padding\n" * 200_000)
    done = run_cli("status")
    assert done.returncode == 1 and "larger than" in done.stderr, done.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (chown to another uid)")
def test_config_owned_by_another_user_is_not_trusted(
    home: Home, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """It chooses which directories a root ``doctor --fix`` edits."""
    path = _config(home, monkeypatch, b'[service]\nlaunch_agents_dir = "/Library/LaunchDaemons"\n')
    os.chown(path, 12345, 12345)
    _, err = one_error(capsys, "doctor", "--fix")
    assert "owned by uid 12345" in err


# -- numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "limits_argv",
    [
        ("--soft", "99999999999999999999999", "--hard", "99999999999999999999999"),
        ("--hard", "4294967296"),
        ("--soft", "0"),
        ("--soft", "-5"),
        ("--soft", "20000", "--hard", "10000"),
    ],
)
def test_out_of_range_limits_are_usage_errors_and_nothing_is_written(
    home: Home, capsys: pytest.CaptureFixture[str], limits_argv: tuple[str, ...]
) -> None:
    """Before: a limit above 2^64 ended in plistlib's OverflowError traceback, and
    one above 2^31 was written into the plist."""
    path = write_plist(home.launch_agents / f"{LABEL}.plist", rich_agent())
    before = path.read_bytes()
    code, err = one_error(capsys, "doctor", "--manager", "launchd", "--fix", *limits_argv)
    assert code == 2
    assert "FD limit" in err
    assert path.read_bytes() == before
    assert sorted(p.name for p in home.launch_agents.iterdir()) == [path.name]


@pytest.mark.parametrize("value", ["99999999999999999999999", "0", "-1", "4294967296"])
def test_out_of_range_plist_limit_is_an_error_finding_not_a_rewrite(
    home: Home, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    path = write_plist(home.launch_agents / f"{LABEL}.plist", rich_agent(**limits(1024, 2048)))
    text = path.read_text().replace("<integer>1024</integer>", f"<integer>{value}</integer>")
    path.write_text(text)
    assert main(["doctor", "--manager", "launchd", "--fix"]) == 1
    out = capsys.readouterr().out
    assert "plist-unreadable" in out and "out of range" in out
    assert path.read_text() == text
    assert sorted(p.name for p in home.launch_agents.iterdir()) == [path.name]


def test_huge_integer_elsewhere_in_the_plist_is_one_error(
    home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_plist(home.launch_agents / f"{LABEL}.plist", rich_agent())
    text = path.read_text().replace(
        "<integer>10</integer>", "<integer>99999999999999999999999</integer>"
    )
    path.write_text(text)
    _, err = one_error(capsys, "doctor", "--manager", "launchd", "--fix")
    assert "cannot write plist" in err
    assert path.read_text() == text


def test_huge_plist_is_not_read(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    agent = rich_agent(Padding="x" * (2 << 20))
    path = write_plist(home.launch_agents / f"{LABEL}.plist", agent)
    assert main(["doctor", "--manager", "launchd", "--fix"]) == 1
    out = capsys.readouterr().out
    assert "plist-unreadable" in out and "larger than" in out
    assert sorted(p.name for p in home.launch_agents.iterdir()) == [path.name]


@pytest.mark.parametrize("wait", ["inf", "nan", "-1", "1e9", "-inf", "1e400"])
def test_restart_wait_is_bounded(
    tools: Tools, capsys: pytest.CaptureFixture[str], wait: str
) -> None:
    """Before: --wait inf/nan/1e9 were taken (inf waits forever for a job that
    does not come back)."""
    tools.add_unit(UNIT, ActiveState="active", MainPID="10")
    code, err = one_error(capsys, "restart", "--manager", "systemd", "--yes", f"--wait={wait}")
    assert code == 2 and "--wait" in err
    assert not [c for c in tools.calls() if "restart" in c]


# -- soft never above hard ------------------------------------------------------------


def test_fix_of_soft_above_hard_never_writes_soft_above_hard(
    home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: 20000/1024 became 20000/16384 — soft above hard again."""
    path = write_plist(home.launch_agents / f"{LABEL}.plist", rich_agent(**limits(20000, 1024)))
    main(["doctor", "--manager", "launchd", "--fix"])
    out = capsys.readouterr().out
    data = read_plist(path)
    soft = data["SoftResourceLimits"]["NumberOfFiles"]
    hard = data["HardResourceLimits"]["NumberOfFiles"]
    assert (soft, hard) == (20000, 20000)
    assert "hard raised to 20000 to match the soft limit" in out


def test_soft_above_hard_is_found_even_when_both_are_high(
    home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: 40000/20000 passed the check (both above target) and was left as is."""
    path = write_plist(home.launch_agents / f"{LABEL}.plist", rich_agent(**limits(40000, 20000)))
    assert main(["doctor", "--manager", "launchd"]) == 1
    assert "plist-soft-above-hard" in capsys.readouterr().out
    main(["doctor", "--manager", "launchd", "--fix"])
    data = read_plist(path)
    assert data["SoftResourceLimits"]["NumberOfFiles"] == 40000
    assert data["HardResourceLimits"]["NumberOfFiles"] == 40000


# -- names never become options ------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ("restart", "--manager", "systemd", "--unit=-H.evil", "--yes"),
        ("restart", "--manager", "systemd", "--unit=--host=evil", "--yes"),
        ("status", "--manager", "systemd", "--unit=-H"),
        ("doctor", "--manager", "systemd", "--unit=-H.evil"),
        ("restart", "--manager", "launchd", "--label=-x", "--yes"),
        ("restart", "--manager", "launchd", "--label=../system/com.apple.x", "--yes"),
        ("status", "--manager", "launchd", "--label=ai.hermes\x1b[31m"),
    ],
)
def test_option_like_names_never_reach_the_tools(
    tools: Tools, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    """Before: `--unit=-H.evil` ran `systemctl --user restart -H.evil`."""
    tools.add_unit("-H.evil", ActiveState="active", MainPID="10")
    code, err = one_error(capsys, *argv)
    assert code == 2 and "invalid" in err
    assert tools.calls() == []


def test_every_unit_name_follows_a_double_dash(tools: Tools) -> None:
    tools.add_unit(UNIT, ActiveState="active", MainPID="10")
    assert main(["status", "--manager", "systemd"]) == 0
    assert main(["restart", "--manager", "systemd", "--yes"]) == 0
    calls = tools.calls("systemctl")
    assert calls
    for call in calls:
        if UNIT in call:
            assert call[call.index(UNIT) - 1] == "--", call


def test_plist_with_an_option_like_label_is_fixed_but_never_passed_on(
    home: Home, tools: Tools, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Label from a file is input too: `-evil` (or control characters) is never a
    launchctl argument; the limits are still fixed, the reload left to the user."""
    write_plist(home.launch_agents / f"{LABEL}.plist", rich_agent("-evil"))
    # Binary: an XML plist cannot hold an escape character.
    write_plist(
        home.launch_agents / "ai.hermes.gateway.plist",
        rich_agent("ai.hermes.gw\x1b[2J"),
        plistlib.FMT_BINARY,
    )
    assert main(["status", "--manager", "launchd", "--json"]) == 0
    names = [a["name"] for a in json.loads(capsys.readouterr().out)["agents"]]
    assert names == [LABEL]
    main(["doctor", "--manager", "launchd", "--fix", "--yes"])
    out = capsys.readouterr().out
    assert "reload it yourself" in out
    for call in tools.calls("launchctl"):
        assert not any(arg.startswith("-e") or "\x1b" in arg for arg in call), call
        assert "bootout" not in call and "bootstrap" not in call


def test_relative_plist_path_never_becomes_a_launchctl_option(
    home: Home, tools: Tools, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A guard: reload commands are built from absolute paths, whatever the caller
    passes (launchctl has no "--" to end its options)."""
    write_plist(home.launch_agents / "-x.plist", rich_agent())
    monkeypatch.chdir(home.launch_agents)
    main(["doctor", "--manager", "launchd", "--plist=-x.plist", "--fix", "--yes"])
    boots = [c for c in tools.calls("launchctl") if c[1] in ("bootout", "bootstrap")]
    assert boots
    assert all(c[3] == str(home.launch_agents / "-x.plist") for c in boots), boots


# -- what the tools print is hostile too ---------------------------------------------


@pytest.mark.parametrize("pid", ["-5", "1", "0", "99999999999999999999", "self", "12ab"])
def test_hostile_launchctl_pid_is_ignored(
    home: Home, tools: Tools, capsys: pytest.CaptureFixture[str], pid: str
) -> None:
    """Before: `pid = 1` or our own PID was taken as the agent's main process."""
    shown = str(os.getpid()) if pid == "self" else pid
    tools.add_agent(LABEL, shown)  # type: ignore[arg-type]
    assert main(["status", "--manager", "launchd", "--json"]) == 0
    (agent,) = json.loads(capsys.readouterr().out)["agents"]
    assert agent["loaded"] is True and agent["pid"] is None


@pytest.mark.parametrize("pid", ["1", "self"])
def test_restart_is_not_declared_done_on_a_hostile_new_pid(
    home: Home, tools: Tools, capsys: pytest.CaptureFixture[str], pid: str
) -> None:
    """A kickstart after which launchctl names pid 1 (or us) has not come back."""
    tools.add_agent(LABEL, 4242)
    tools.update("launchd", next_pids=[os.getpid() if pid == "self" else int(pid)])
    code = main(["restart", "--manager", "launchd", "--yes", "--wait", "0.3"])
    assert code == 1
    assert "not running yet" in capsys.readouterr().out


def test_hostile_launchctl_path_is_ignored(
    home: Home, tools: Tools, capsys: pytest.CaptureFixture[str]
) -> None:
    plist = write_plist(home.launch_agents / f"{LABEL}.plist", rich_agent(**limits(8192, 16384)))
    tools.add_agent(LABEL, 4242, "relative/evil\x1b]0;x\x07.plist")
    assert main(["status", "--manager", "launchd", "--json"]) == 0
    (agent,) = json.loads(capsys.readouterr().out)["agents"]
    assert agent["file"] == str(plist)
    assert agent["fd_limit_source"] == "plist"


def test_hostile_systemctl_show_values_are_ignored(
    home: Home, tools: Tools, capsys: pytest.CaptureFixture[str]
) -> None:
    (home.systemd_user / UNIT).write_text("[Service]\nExecStart=/bin/true\n")
    tools.add_unit(
        UNIT,
        ActiveState="active\x1b[2J",
        MainPID="1",
        LimitNOFILE="99999999999999999999999",
        LimitNOFILESoft="١٠٢٤",  # Arabic-Indic digits: str.isdigit() says yes
        FragmentPath="\x1b]0;evil\x07",
    )
    assert main(["status", "--manager", "systemd", "--json"]) == 0
    (agent,) = json.loads(capsys.readouterr().out)["agents"]
    assert agent["pid"] is None and agent["state"] is None
    assert agent["fd_soft_limit"] is None and agent["fd_hard_limit"] is None
    assert agent["file"] == str(home.systemd_user / UNIT)
    assert "\x1b" not in agent["fd_limit_detail"]


@pytest.mark.parametrize("value", ["99999999999999999999999", "١٠٢٤", "0"])
def test_hostile_limit_in_a_unit_file_is_one_error(
    home: Home, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    (home.systemd_user / UNIT).write_text(f"[Service]\nLimitNOFILE={value}\n")
    assert main(["doctor", "--manager", "systemd"]) == 1
    out = capsys.readouterr().out
    assert "unit-unreadable" in out and "LimitNOFILE" in out
