"""Hostile files: links, FIFOs and foreign directories where hermes-top writes; a
full disk under the journal; a root ``doctor --fix`` in a user's home.

Every test here failed before the fix it covers (see the docstrings).
"""

from __future__ import annotations

import errno
import os
import pathlib
import plistlib
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator

import pytest

from hermes_top.core.errors import HermesTopError
from hermes_top.core.journal import Journal, read_journal
from hermes_top.service import doctor, doctor_fix, plists, systemd
from hermes_top.service.config import ServiceSettings
from tests.harness import is_running
from tests.hostile.workers import bare_workers

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (chown to another uid)")
#: A user that is not us: files "in someone's home" belong to it.
OTHER = 12345
RECORD = {"event": "signal", "pid": 4242, "signal": "SIGTERM"}


def _state(tmp_path: pathlib.Path) -> pathlib.Path:
    d = tmp_path / "state"
    d.mkdir(mode=0o700)
    return d


def _in_thread(fn: Callable[[], object], timeout: float = 5.0) -> object:
    """Run ``fn``; fail (instead of hanging the suite) if it blocks."""
    box: list[object] = []

    def run() -> None:
        try:
            box.append(fn())
        except BaseException as err:
            box.append(err)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), f"blocked for more than {timeout} s"
    return box[0]


# -- the journal follows no links --------------------------------------------------------


def test_journal_symlink_to_a_file_is_refused_and_the_target_untouched(
    tmp_path: pathlib.Path,
) -> None:
    """Before: a link planted at signals.jsonl made a reap append JSON to any file."""
    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    journal = _state(tmp_path) / "signals.jsonl"
    journal.symlink_to(victim)
    j = Journal(journal)
    with pytest.raises(HermesTopError) as err:
        j.open()
    message = str(err.value)
    assert "symbolic link" in message and "nothing was signalled" in message
    assert "\n" not in message
    assert j.write(dict(RECORD)) is False  # the lazy open in write refuses too
    assert victim.read_text() == "keep me\n"


def test_dangling_journal_symlink_creates_nothing(tmp_path: pathlib.Path) -> None:
    """Before: a dangling link at signals.jsonl created its target."""
    target = tmp_path / "created-by-hermes-top"
    journal = _state(tmp_path) / "signals.jsonl"
    journal.symlink_to(target)
    with pytest.raises(HermesTopError, match="symbolic link"):
        Journal(journal).open()
    assert not target.exists()


def test_fifo_journal_is_refused_without_hanging(tmp_path: pathlib.Path) -> None:
    """Before: opening a FIFO at signals.jsonl blocked until someone read it."""
    journal = _state(tmp_path) / "signals.jsonl"
    os.mkfifo(journal)
    try:
        outcome = _in_thread(Journal(journal).open)
    finally:
        # Releases a writer stuck in open() (the unfixed code), so nothing leaks.
        os.close(os.open(journal, os.O_RDONLY | os.O_NONBLOCK))
    assert isinstance(outcome, HermesTopError), outcome
    assert "FIFO" in str(outcome) and "nothing was signalled" in str(outcome)


@ROOT_ONLY
def test_state_dir_owned_by_someone_else_is_refused(tmp_path: pathlib.Path) -> None:
    """Before: any directory was used, so another user's could hold links for us."""
    state = _state(tmp_path)
    os.chown(state, OTHER, OTHER)
    with pytest.raises(HermesTopError) as err:
        Journal(state / "signals.jsonl").open()
    assert f"owned by uid {OTHER}" in str(err.value)
    assert "HERMES_TOP_STATE_DIR" in str(err.value) and "nothing was signalled" in str(err.value)
    assert not (state / "signals.jsonl").exists()


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o702])
def test_group_or_world_writable_state_dir_is_refused(tmp_path: pathlib.Path, mode: int) -> None:
    state = _state(tmp_path)
    state.chmod(mode)
    with pytest.raises(HermesTopError) as err:
        Journal(state / "signals.jsonl").open()
    assert "writable" in str(err.value) and "chmod" in str(err.value)
    assert not (state / "signals.jsonl").exists()


def test_missing_state_dir_is_created_private(tmp_path: pathlib.Path) -> None:
    state = tmp_path / "a" / "b" / "hermes-top"
    j = Journal(state / "signals.jsonl")
    j.open()
    assert j.write(dict(RECORD))
    j.close()
    for d in (tmp_path / "a", tmp_path / "a" / "b", state):
        assert stat.S_IMODE(d.stat().st_mode) & 0o077 == 0, oct(d.stat().st_mode)
    assert stat.S_IMODE((state / "signals.jsonl").stat().st_mode) == 0o600
    assert [r["pid"] for r in read_journal(state / "signals.jsonl")] == [4242]


@ROOT_ONLY
def test_state_dir_behind_another_users_symlink_is_refused(tmp_path: pathlib.Path) -> None:
    """A symlinked *parent*: a link owned by another user leading into root's files."""
    rootdir = tmp_path / "roots"
    rootdir.mkdir(mode=0o700)
    (rootdir / "hermes-top").mkdir(mode=0o700)
    link = tmp_path / "users-link"
    link.symlink_to(rootdir)
    os.lchown(link, OTHER, OTHER)
    with pytest.raises(HermesTopError) as err:
        Journal(link / "hermes-top" / "signals.jsonl").open()
    assert "symbolic link owned by uid 12345" in str(err.value)
    assert not (rootdir / "hermes-top" / "signals.jsonl").exists()


def test_state_dir_below_a_directory_others_may_write_is_refused(
    tmp_path: pathlib.Path,
) -> None:
    """Whoever may write the parent could swap the state dir for their own."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    state = shared / "hermes-top"
    state.mkdir(mode=0o700)
    with pytest.raises(HermesTopError, match="writable by other users"):
        Journal(state / "signals.jsonl").open()
    # A sticky directory (like /tmp) is fine: nobody else may rename our entries.
    shared.chmod(0o1777)
    j = Journal(state / "signals.jsonl")
    j.open()
    j.close()


@ROOT_ONLY
def test_state_dir_below_another_users_directory_is_refused(tmp_path: pathlib.Path) -> None:
    """sudo with the user's $HOME: root must not keep its journal in their tree."""
    home = tmp_path / "alice"
    home.mkdir()
    os.chown(home, OTHER, OTHER)
    with pytest.raises(HermesTopError, match=f"owned by uid {OTHER}, not by you"):
        Journal(home / ".local" / "state" / "hermes-top" / "signals.jsonl").open()
    assert not (home / ".local").exists()  # nothing created in their home


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")
def test_reap_with_a_planted_journal_link_signals_nothing(
    sim: object, tmp_path: pathlib.Path
) -> None:
    from hermes_top.core.engine import Core

    victim = tmp_path / "victim"
    victim.write_text("")
    journal = _state(tmp_path) / "signals.jsonl"
    journal.symlink_to(victim)
    with bare_workers(sim, 2) as procs:  # type: ignore[arg-type]
        pids = {p.pid for p in procs}
        core = Core(scope=lambda p: p.pid in pids, journal=Journal(journal))
        targets = [p for p in core.scan().processes if p.pid in pids]
        with pytest.raises(HermesTopError, match="nothing was signalled"):
            core.reap(targets, grace_s=0.5)
        core.close()
        assert all(is_running(p) for p in pids)
    assert victim.read_text() == ""


# -- a full disk never corrupts the journal ----------------------------------------------


@pytest.fixture
def small_fs(tmp_path: pathlib.Path) -> Iterator[pathlib.Path]:
    """A real 64 KiB filesystem (tmpfs); skipped where mount is not permitted."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(mnt)],
        capture_output=True,
    )
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(path: pathlib.Path) -> None:
    """Fill the filesystem holding ``path`` completely."""
    with path.open("wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"x" * 4096)
        except OSError as err:
            assert err.errno == errno.ENOSPC
        try:
            while True:
                fh.write(b"x")
        except OSError as err:
            assert err.errno == errno.ENOSPC


def test_full_filesystem_loses_records_but_never_a_line(small_fs: pathlib.Path) -> None:
    """Before: the write that hit ENOSPC raised, and left a truncated line behind
    that made every later read_journal fail."""
    path = small_fs / "signals.jsonl"
    j = Journal(path)
    j.open()
    assert j.write({"event": "action", "n": 0})
    _fill(small_fs / "filler")
    # The first page of the journal is allocated: the rest of it still fits, then not.
    long = {"event": "signal", "argv": ["python", "-m", "tui_gateway.slash_worker", "x" * 300]}
    results = [j.write({**long, "n": n}) for n in range(1, 40)]
    assert True in results and False in results
    assert j.failed_writes == results.count(False)
    assert j.last_error is not None and "No space left" in j.last_error
    raw = path.read_bytes()
    assert raw.endswith(b"\n")
    records = read_journal(path)
    assert records.skipped == 0
    written = [0] + [n for n, ok in zip(range(1, 40), results, strict=True) if ok]
    assert [r["n"] for r in records] == written
    # Space again: the next line starts on a line of its own.
    (small_fs / "filler").unlink()
    assert j.write({"event": "outcome", "n": 99})
    j.close()
    assert [r["n"] for r in read_journal(path)] == [*written, 99]


@pytest.fixture
def journal(tmp_path: pathlib.Path) -> Iterator[Journal]:
    j = Journal(_state(tmp_path) / "signals.jsonl")
    j.open()
    j.write({"event": "action", "n": 0})
    yield j
    j.close()


def _fake_write(
    monkeypatch: pytest.MonkeyPatch, j: Journal, behaviour: Callable[[int, bytes], int]
) -> None:
    """Replace os.write for the journal's fd only."""
    real = os.write

    def write(fd: int, data: bytes) -> int:
        if fd == j._fd:
            return behaviour(fd, bytes(data))
        return real(fd, data)

    monkeypatch.setattr(os, "write", write)


def _short_then(code: int) -> Callable[[int, bytes], int]:
    calls = 0

    def behaviour(fd: int, data: bytes) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            half = len(data) // 2
            os.pwrite(fd, data[:half], os.fstat(fd).st_size)  # what a short write leaves
            return half
        raise OSError(code, os.strerror(code))

    return behaviour


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EIO, errno.EDQUOT, errno.EFBIG])
def test_short_write_is_taken_back(
    journal: Journal, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    before = journal.path.read_bytes()
    _fake_write(monkeypatch, journal, _short_then(code))
    assert journal.write({"event": "signal", "n": 1}) is False
    assert journal.path.read_bytes() == before  # earlier lines intact, no fragment
    assert journal.failed_writes == 1 and journal.last_error == os.strerror(code)
    monkeypatch.undo()
    assert journal.write({"event": "signal", "n": 2})
    assert [r["n"] for r in read_journal(journal.path)] == [0, 2]


def test_write_that_raises_at_once_returns_false(
    journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    _fake_write(monkeypatch, journal, refuse)
    assert [journal.write({"n": n}) for n in range(3)] == [False] * 3
    assert journal.failed_writes == 3
    monkeypatch.undo()
    assert [r["n"] for r in read_journal(journal.path)] == [0]


def test_fragment_that_cannot_be_taken_back_is_terminated(
    journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When even the truncate fails, the next line still starts on a line of its own."""
    _fake_write(monkeypatch, journal, _short_then(errno.ENOSPC))

    def no_truncate(fd: int, size: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "ftruncate", no_truncate)
    assert journal.write({"event": "signal", "n": 1}) is False
    monkeypatch.undo()
    assert journal.write({"event": "signal", "n": 2})
    records = read_journal(journal.path)
    assert [r["n"] for r in records] == [0, 2]
    assert records.skipped == 1  # the fragment, on its own line


def test_fragment_left_by_a_crash_does_not_swallow_the_next_line(
    tmp_path: pathlib.Path,
) -> None:
    path = _state(tmp_path) / "signals.jsonl"
    path.write_bytes(b'{"n": 0}\n{"n": 1, "trunc')
    j = Journal(path)
    assert j.write({"n": 2})
    j.close()
    records = read_journal(path)
    assert [r["n"] for r in records] == [0, 2] and records.skipped == 1


def test_read_journal_skips_what_does_not_parse(tmp_path: pathlib.Path) -> None:
    """Before: one bad line made read_journal raise, hiding every good one."""
    path = tmp_path / "j.jsonl"
    path.write_bytes(b'{"n": 1}\n{"n": 2, "cut sh\n\xff\xfe not utf-8\n[1, 2]\n\n{"n": 3}\n{"n": 4')
    records = read_journal(path)
    assert [r["n"] for r in records] == [1, 3]
    assert records.skipped == 4


# -- doctor --fix as root keeps a user's files theirs ------------------------------------


def _settings(root: pathlib.Path) -> ServiceSettings:
    return ServiceSettings(
        manager="launchd",
        label="ai.hermes.dashboard",
        unit="hermes-dashboard.service",
        launch_agents_dir=root / "Library" / "LaunchAgents",
        systemd_user_dir=root / ".config" / "systemd" / "user",
        temp_dir=root / "tmp",
        uid=OTHER,
    )


def _users_home(tmp_path: pathlib.Path) -> pathlib.Path:
    home = tmp_path / "home"
    for d in (
        home,
        home / "Library",
        home / "Library" / "LaunchAgents",
        home / ".config",
        home / ".config" / "systemd",
        home / ".config" / "systemd" / "user",
    ):
        d.mkdir()
        os.chown(d, OTHER, OTHER)
    return home


def _owner(path: pathlib.Path) -> tuple[int, int, int]:
    st = path.lstat()
    return st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)


AGENT = {"Label": "ai.hermes.dashboard", "ProgramArguments": ["/opt/hermes/bin/hermes"]}


@ROOT_ONLY
def test_root_fix_keeps_the_users_plist_and_backup_theirs(tmp_path: pathlib.Path) -> None:
    """Before: the plist and its backup ended up root's, unreadable by the user."""
    home = _users_home(tmp_path)
    path = home / "Library" / "LaunchAgents" / "ai.hermes.dashboard.plist"
    path.write_bytes(plistlib.dumps(AGENT))
    os.chown(path, OTHER, OTHER + 1)
    path.chmod(0o640)
    settings = _settings(home)
    findings = doctor.run_checks(
        doctor.DoctorRequest(
            settings,
            snapshot_provider=lambda: None,  # type: ignore[arg-type,return-value]
            references=lambda: doctor.TuiReferences(frozenset()),
        )
    )
    (fix,) = doctor_fix.apply_fixes(findings, settings, reload=False)
    assert fix.changed and fix.backup is not None
    assert _owner(path) == (OTHER, OTHER + 1, 0o640)
    assert _owner(fix.backup) == (OTHER, OTHER + 1, 0o640)
    assert plistlib.loads(path.read_bytes())["SoftResourceLimits"] == {"NumberOfFiles": 8192}


@ROOT_ONLY
def test_root_fix_gives_a_new_dropin_to_the_homes_owner(tmp_path: pathlib.Path) -> None:
    """Before: <unit>.d/ and limits.conf were created root's in the user's home."""
    home = _users_home(tmp_path)
    user_dir = home / ".config" / "systemd" / "user"
    edit = systemd.write_limits_dropin(user_dir, "hermes-dashboard.service", 8192, 16384)
    assert edit.changed
    assert _owner(edit.path.parent) == (OTHER, OTHER, 0o755)
    assert _owner(edit.path) == (OTHER, OTHER, 0o644)


@ROOT_ONLY
def test_root_fix_keeps_an_existing_dropins_owner_and_mode(tmp_path: pathlib.Path) -> None:
    home = _users_home(tmp_path)
    dropins = home / ".config" / "systemd" / "user" / "hermes-dashboard.service.d"
    dropins.mkdir()
    os.chown(dropins, OTHER, OTHER)
    path = dropins / "limits.conf"
    path.write_text("[Service]\nLimitNOFILE=1024\n")
    os.chown(path, OTHER, OTHER)
    path.chmod(0o600)
    edit = systemd.write_limits_dropin(dropins.parent, "hermes-dashboard.service", 8192, 16384)
    assert edit.backup is not None
    assert _owner(path) == (OTHER, OTHER, 0o600)
    assert _owner(edit.backup) == (OTHER, OTHER, 0o600)
    assert "LimitNOFILE=8192:16384" in path.read_text()


@ROOT_ONLY
def test_users_plist_link_to_a_root_file_is_not_followed(tmp_path: pathlib.Path) -> None:
    """A user's agent "plist" linking to a system daemon's must not make root edit it."""
    system = tmp_path / "LaunchDaemons"
    system.mkdir()
    daemon = system / "com.example.daemon.plist"
    daemon.write_bytes(plistlib.dumps(AGENT))
    before = daemon.read_bytes()
    home = _users_home(tmp_path)
    link = home / "Library" / "LaunchAgents" / "ai.hermes.dashboard.plist"
    link.symlink_to(daemon)
    os.lchown(link, OTHER, OTHER)
    with pytest.raises(HermesTopError, match="symbolic link owned by uid 12345"):
        plists.set_nofile_limits(link, 8192, 16384)
    assert daemon.read_bytes() == before
    assert sorted(p.name for p in system.iterdir()) == [daemon.name]  # no backup either


@ROOT_ONLY
def test_users_linked_agents_dir_into_root_files_is_not_followed(tmp_path: pathlib.Path) -> None:
    """The same through a symlinked *directory* (~/Library/LaunchAgents → a root dir)."""
    system = tmp_path / "LaunchDaemons"
    system.mkdir()
    daemon = system / "ai.hermes.dashboard.plist"
    daemon.write_bytes(plistlib.dumps(AGENT))
    before = daemon.read_bytes()
    home = _users_home(tmp_path)
    agents = home / "Library" / "LaunchAgents"
    agents.rmdir()
    agents.symlink_to(system)
    os.lchown(agents, OTHER, OTHER)
    with pytest.raises(HermesTopError, match="symbolic link owned by uid 12345"):
        plists.set_nofile_limits(agents / daemon.name, 8192, 16384)
    assert daemon.read_bytes() == before


@ROOT_ONLY
def test_users_link_to_their_own_file_is_still_followed(tmp_path: pathlib.Path) -> None:
    """Dotfiles: the link and the file are both the user's — edited, and kept theirs."""
    home = _users_home(tmp_path)
    real = home / "dotfiles.plist"
    real.write_bytes(plistlib.dumps(AGENT))
    os.chown(real, OTHER, OTHER)
    link = home / "Library" / "LaunchAgents" / "ai.hermes.dashboard.plist"
    link.symlink_to(real)
    os.lchown(link, OTHER, OTHER)
    edit = plists.set_nofile_limits(link, 8192, 16384)
    assert edit.changed and edit.path == real and link.is_symlink()
    assert _owner(real)[:2] == (OTHER, OTHER)


def test_fifo_plist_is_refused_without_hanging(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "ai.hermes.dashboard.plist"
    os.mkfifo(path)
    try:
        outcome = _in_thread(lambda: plists.set_nofile_limits(path, 8192, 16384))
    finally:
        # Releases a reader stuck in open() (the unfixed code); ENXIO when there is none.
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass
    assert isinstance(outcome, HermesTopError), outcome
    assert "FIFO" in str(outcome)


def test_backup_never_follows_a_planted_link(tmp_path: pathlib.Path) -> None:
    """The backup name is predictable (it has the time in it): a link planted
    there must not redirect the copy of the plist."""
    import datetime as dt

    now = dt.datetime(2026, 1, 2, 3, 4, 5)
    path = tmp_path / "a.plist"
    path.write_bytes(plistlib.dumps(AGENT))
    victim = tmp_path / "victim"
    planted = tmp_path / "a.plist.hermes-top-20260102-030405.bak"
    planted.symlink_to(victim)
    edit = plists.set_nofile_limits(path, 8192, 16384, now=now)
    assert not victim.exists()
    assert edit.backup is not None and edit.backup != planted and not edit.backup.is_symlink()
