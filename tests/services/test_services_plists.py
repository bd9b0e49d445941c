"""Plist edits on real files: format kept, other keys kept, backups, never a half write."""

from __future__ import annotations

import datetime as dt
import os
import pathlib
import plistlib

import pytest

from hermes_top.core.errors import HermesTopError
from hermes_top.service import plists
from hermes_top.service.launchd import read_plist_nofile
from tests.services.plist_samples import limits, read_plist, rich_agent, write_plist

NOW = dt.datetime(2026, 11, 27, 23, 30, 0)
FORMATS = pytest.mark.parametrize(
    ("fmt", "magic"), [(plistlib.FMT_XML, b"<?xml"), (plistlib.FMT_BINARY, b"bplist00")]
)


@pytest.fixture
def work(tmp_path: pathlib.Path) -> pathlib.Path:
    """A directory of its own, so sibling listings see only the test's files."""
    d = tmp_path / "plists"
    d.mkdir()
    return d


def _siblings(path: pathlib.Path) -> set[str]:
    return {p.name for p in path.parent.iterdir()}


@FORMATS
def test_adds_limits_keeping_every_key_and_the_format(
    work: pathlib.Path, fmt: plistlib.PlistFormat, magic: bytes
) -> None:
    original = rich_agent()
    path = write_plist(work / "ai.hermes.dashboard.plist", original, fmt)
    before_bytes = path.read_bytes()

    edit = plists.set_nofile_limits(path, 8192, 16384, now=NOW)

    assert edit.changed
    assert edit.before == plists.NofileLimits(None, None)
    assert edit.after == plists.NofileLimits(8192, 16384)
    raw = path.read_bytes()
    assert raw.startswith(magic)
    assert read_plist(path) == {**original, **limits(8192, 16384)}
    # The author's key order survives too (the new keys go last).
    assert list(read_plist(path))[: len(original)] == list(original)
    assert edit.backup == work / "ai.hermes.dashboard.plist.hermes-top-20261127-233000.bak"
    assert edit.backup.read_bytes() == before_bytes
    # Only the file and its backup: no temp file left behind.
    assert _siblings(path) == {path.name, edit.backup.name}
    assert read_plist_nofile(path) == (8192, 16384)


@FORMATS
def test_raises_low_limits_but_never_lowers_high_ones(
    work: pathlib.Path, fmt: plistlib.PlistFormat, magic: bytes
) -> None:
    path = write_plist(
        work / "a.plist",
        rich_agent(
            SoftResourceLimits={"NumberOfFiles": 20000, "NumberOfProcesses": 500},
            HardResourceLimits={"NumberOfFiles": 1024, "Core": 0},
        ),
        fmt,
    )
    edit = plists.set_nofile_limits(path, 8192, 16384, now=NOW)
    data = read_plist(path)
    assert path.read_bytes().startswith(magic)
    assert data["SoftResourceLimits"] == {"NumberOfFiles": 20000, "NumberOfProcesses": 500}
    # Hard goes up to the kept soft limit, not just to the 16384 target: soft > hard
    # would make launchd refuse both.
    assert data["HardResourceLimits"] == {"NumberOfFiles": 20000, "Core": 0}
    assert edit.before == plists.NofileLimits(20000, 1024)
    assert edit.note == "hard raised to 20000 to match the soft limit"


def test_already_high_enough_is_left_byte_for_byte(work: pathlib.Path) -> None:
    path = write_plist(work / "a.plist", rich_agent(**limits(8192, 65536)))
    before = path.read_bytes()
    edit = plists.set_nofile_limits(path, 8192, 16384, now=NOW)
    assert not edit.changed and edit.backup is None
    assert path.read_bytes() == before
    assert _siblings(path) == {"a.plist"}


def test_keeps_file_mode_and_edits_through_a_symlink(work: pathlib.Path) -> None:
    real = write_plist(work / "real.plist", rich_agent())
    real.chmod(0o600)
    link = work / "ai.hermes.dashboard.plist"
    link.symlink_to(real)
    edit = plists.set_nofile_limits(link, 8192, 16384, now=NOW)
    assert link.is_symlink()
    assert edit.path == real
    assert read_plist(real)["SoftResourceLimits"] == {"NumberOfFiles": 8192}
    assert real.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    "content",
    [
        b"<?xml version='1.0'?><plist><dict><key>Label</key><string>x</str",  # cut short
        b"bplist00\x00\x01garbage",  # a truncated binary plist
        b"",  # empty
        b"\x89PNG\r\n\x1a\n not a plist",
    ],
    ids=["xml", "binary", "empty", "png"],
)
def test_corrupt_plist_is_never_written(work: pathlib.Path, content: bytes) -> None:
    path = work / "ai.hermes.dashboard.plist"
    path.write_bytes(content)
    with pytest.raises(HermesTopError) as err:
        plists.set_nofile_limits(path, 8192, 16384)
    message = str(err.value)
    assert message.startswith(f"cannot parse plist {path}: ")
    assert "\n" not in message
    assert path.read_bytes() == content
    assert _siblings(path) == {path.name}


@pytest.mark.parametrize(
    "data",
    [
        {"Label": "x", "SoftResourceLimits": "8192"},
        {"Label": "x", "HardResourceLimits": {"NumberOfFiles": "many"}},
    ],
    ids=["not-a-dict", "not-an-int"],
)
def test_odd_limit_values_are_refused_not_overwritten(
    work: pathlib.Path, data: dict[str, object]
) -> None:
    path = write_plist(work / "a.plist", dict(data))
    before = path.read_bytes()
    with pytest.raises(HermesTopError, match=r"cannot use plist .*a\.plist: .*ResourceLimits"):
        plists.set_nofile_limits(path, 8192, 16384)
    assert path.read_bytes() == before


def test_top_level_array_is_refused(work: pathlib.Path) -> None:
    path = work / "a.plist"
    path.write_bytes(plistlib.dumps(["not", "a", "dict"]))
    with pytest.raises(HermesTopError, match="top level is not a dictionary"):
        plists.load_plist(path)


def test_failed_replace_leaves_the_original_and_no_temp_file(
    work: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_plist(work / "a.plist", rich_agent())
    before = path.read_bytes()

    def refuse(src: object, dst: object, **dir_fds: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(HermesTopError, match=r"cannot write .*a\.plist: No space left on device"):
        plists.set_nofile_limits(path, 8192, 16384, now=NOW)
    assert path.read_bytes() == before
    # The backup was written first and is kept; the temp file is gone.
    names = _siblings(path)
    assert names == {"a.plist", "a.plist.hermes-top-20261127-233000.bak"}


def test_two_backups_in_the_same_second_do_not_clobber(work: pathlib.Path) -> None:
    path = write_plist(work / "a.plist", rich_agent(**limits(100, 200)))
    first = plists.set_nofile_limits(path, 1000, 2000, now=NOW)
    second = plists.set_nofile_limits(path, 8192, 16384, now=NOW)
    assert first.backup is not None and second.backup is not None
    assert first.backup != second.backup
    assert read_plist(first.backup)["SoftResourceLimits"] == {"NumberOfFiles": 100}
    assert read_plist(second.backup)["SoftResourceLimits"] == {"NumberOfFiles": 1000}


def test_read_plist_nofile(work: pathlib.Path) -> None:
    none = write_plist(work / "none.plist", rich_agent())
    soft_only = write_plist(work / "soft.plist", rich_agent(**limits(4096, None)))
    both = write_plist(work / "both.plist", rich_agent(**limits(8192, 16384)), plistlib.FMT_BINARY)
    empty_dict = write_plist(work / "empty.plist", rich_agent(SoftResourceLimits={}))
    assert read_plist_nofile(none) is None
    assert read_plist_nofile(empty_dict) is None
    assert read_plist_nofile(soft_only) == (4096, None)
    assert read_plist_nofile(both) == (8192, 16384)
    with pytest.raises(HermesTopError, match="cannot read plist"):
        read_plist_nofile(work / "missing.plist")
