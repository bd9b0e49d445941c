"""Parsing of /proc files that another process's state (or a kernel) shapes."""

from __future__ import annotations

import os

import pytest

from hermes_top.core import procfs


@pytest.mark.parametrize(
    ("status", "uid"),
    [
        (b"Name:\tx\nUmask:\t0022\nUid:\t1000\t1000\t1000\t1000\nGid:\t1\n", 1000),
        (b"Name:\tx\nUid:\t42\t0\t0\t0", 42),  # the last line, no newline
        (b"Name:\tx\nGid:\t1\n", None),
        (b"Name:\tx\nUid:\tnot-a-number\n", None),
        (b"Name:\tx\nUid:\n", None),
        (b"Name:\tUid:\t7\n", None),  # only a line that starts with Uid: counts
    ],
)
def test_read_uid(monkeypatch: pytest.MonkeyPatch, status: bytes, uid: int | None) -> None:
    monkeypatch.setattr(procfs, "_read", lambda path, size=4096: status)
    assert procfs.read_uid(1234) == uid


def test_read_uid_of_this_process() -> None:
    if not os.path.exists("/proc/self/status"):
        pytest.skip("needs /proc")
    assert procfs.read_uid(os.getpid()) == os.getuid()
