"""Core behaviours that need no processes: restart hook and read-only."""

from __future__ import annotations

import pytest

from hermes_top.core.api import ReadOnlyError
from hermes_top.core.engine import Core, classify_fd_target
from hermes_top.core.model import ServiceOutcome


def test_restart_hook_replaces_the_service_manager() -> None:
    calls: list[int] = []

    def fake_restart() -> ServiceOutcome:
        calls.append(1)
        return ServiceOutcome(ok=False, summary="demo: nothing to restart")

    assert Core(restart=fake_restart).restart_dashboard().summary == "demo: nothing to restart"
    assert calls == [1]
    with pytest.raises(ReadOnlyError):
        Core(readonly=True, restart=fake_restart).restart_dashboard()
    assert calls == [1]


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
