"""procfs.count_fds: the size of /proc/PID/fd (Linux >= 6.2, as root) or its listing
give the same count; a kernel that reports size 0 is listed."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from hermes_top.core import procfs
from tests.harness import REGISTRY, wait_until

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")

_HOLDER = (
    "import os, sys; fds = [os.open(os.devnull, os.O_RDONLY) for _ in range(300)]; sys.stdin.read()"
)


@pytest.fixture
def holder() -> Iterator[int]:
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER], stdin=subprocess.PIPE)
    REGISTRY.register(proc.pid, "fd holder")
    try:
        wait_until(lambda: len(os.listdir(f"/proc/{proc.pid}/fd")) >= 300, "300 open FDs")
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


def test_the_count_is_the_listing_whichever_way_it_is_read(
    holder: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    listed = len(os.listdir(f"/proc/{holder}/fd"))
    assert procfs.count_fds(holder) == (listed, None)
    monkeypatch.setattr(procfs, "_AS_ROOT", False)  # not root: listed
    assert procfs.count_fds(holder) == (listed, None)


def test_a_size_of_zero_means_list_it(holder: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Kernels before 6.2 report 0 for the directory's size."""
    real_stat = os.stat

    def old_kernel(path: str, *a: object, **k: object) -> os.stat_result:
        st = real_stat(path)
        return os.stat_result((*st[:6], 0, *st[7:]))  # st_size = 0

    monkeypatch.setattr(procfs, "_AS_ROOT", True)
    monkeypatch.setattr(procfs.os, "stat", old_kernel)
    assert procfs.count_fds(holder) == (len(os.listdir(f"/proc/{holder}/fd")), None)


def test_a_gone_process_is_said_to_be_gone(monkeypatch: pytest.MonkeyPatch) -> None:
    proc = subprocess.Popen(["true"])
    REGISTRY.register(proc.pid, "gone")
    proc.wait()
    for as_root in (True, False):
        monkeypatch.setattr(procfs, "_AS_ROOT", as_root)
        assert procfs.count_fds(proc.pid) == (None, "process gone")
