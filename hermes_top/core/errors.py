"""Errors the core raises for the CLI/TUI to show as one clear line."""

from __future__ import annotations


class HermesTopError(Exception):
    """A user-facing failure: ``str(err)`` is the one-line message, ``exit_code`` the status."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class ScanError(HermesTopError):
    """The process table could not be read whole: no verdict may be drawn from it."""


class ReadOnlyError(HermesTopError):
    """A signal or restart asked of a read-only core."""

    def __init__(self, action: str) -> None:
        super().__init__(f"read-only mode: refusing to {action}", exit_code=2)
        self.action = action


class UsageError(HermesTopError):
    """Bad arguments or an impossible request (exit 2)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, exit_code=2)
