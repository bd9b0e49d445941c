"""Core behaviours that need no processes."""

from __future__ import annotations

import pytest

from hermes_top.core.engine import classify_fd_target


@pytest.mark.parametrize(
    ("target", "kind"),
    [
        ("pipe:[1234]", "pipe"),
        ("socket:[99]", "socket"),
        ("/dev/pts/3", "tty"),
        ("/dev/ptmx", "tty"),
        ("/home/u/.hermes/state.db", "file"),
        ("anon_inode:[eventpoll]", "other"),
    ],
)
def test_fd_targets_are_classified(target: str, kind: str) -> None:
    assert classify_fd_target(target) == kind
