"""Parsing of /proc files that another process's state (or a kernel) shapes."""

from __future__ import annotations

import os
from pathlib import Path

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


@pytest.mark.parametrize(
    ("sockstat6", "read_v6"),
    [
        ("TCP6: inuse 0\nUDP6: inuse 3\n", False),  # none in use: its table is not walked
        ("TCP6: inuse 2\nUDP6: inuse 0\n", True),
        (None, True),  # cannot tell: read it
        ("garbage\n", True),
    ],
)
def test_a_tcp_table_is_read_unless_no_socket_of_it_is_in_use(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    sockstat6: str | None,
    read_v6: bool,
) -> None:
    net = tmp_path / "net"
    net.mkdir()
    head = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid\n"
    row = "   0: {}:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 {} 1 0\n"
    (net / "tcp").write_text(head + row.format("0100007F", 111))
    (net / "tcp6").write_text(head + row.format("00000000000000000000000001000000", 222))
    (net / "sockstat").write_text("sockets: used 9\nTCP: inuse 1 orphan 0 tw 0 alloc 1 mem 0\n")
    if sockstat6 is not None:
        (net / "sockstat6").write_text(sockstat6)
    monkeypatch.setattr(procfs, "PROC", str(tmp_path))
    inodes = {s.inode for s in procfs.tcp_sockets()}
    assert inodes == ({111, 222} if read_v6 else {111})
