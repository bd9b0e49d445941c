"""Errors the simulator raises."""

from __future__ import annotations


class SimError(RuntimeError):
    """A simulated process or request failed. ``errno`` is set when the dashboard
    reported an OSError (e.g. 24, EMFILE, when it ran out of file descriptors)."""

    def __init__(self, message: str, errno: int | None = None) -> None:
        super().__init__(message)
        self.errno = errno


class SimUnsupported(SimError):
    """This leak mode cannot run here (no node, not root, not Linux). Tests skip on it."""


class SimCleanupError(SimError):
    """Some simulated processes survived the simulation's cleanup."""

    def __init__(self, message: str, survivors: dict[int, str]) -> None:
        super().__init__(message)
        self.survivors = survivors
