"""Desktop notifications for the guard: the one place the macOS / Linux
difference for them lives (``osascript`` on macOS, ``notify-send`` elsewhere).

Text goes to the tool as an argument, never into a script: ``osascript`` gets
a fixed AppleScript that reads its ``argv``, so a quote in a message cannot
become code. Everything shown is escaped (``escape_control``) and bounded.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence

from hermes_top.core.escape import escape_control

#: Longest message handed to the notifier (a notification shows a few lines).
MAX_MESSAGE = 300
#: A notifier that hangs (no session bus) must not hold up a tick.
TIMEOUT_S = 5.0
APP_NAME = "hermes-top"

#: AppleScript that shows ``item 1 of argv`` titled ``item 2 of argv``.
_OSASCRIPT = (
    "on run argv",
    "display notification (item 1 of argv) with title (item 2 of argv)",
    "end run",
)

Run = Callable[[Sequence[str]], None]


def notify_argv(system: str, tool: str, title: str, message: str) -> list[str]:
    """The command that shows one notification with ``tool`` (a full path)."""
    title = _bounded(title, 80)
    message = _bounded(message, MAX_MESSAGE)
    if system == "darwin":
        script: list[str] = []
        for line in _OSASCRIPT:
            script += ["-e", line]
        return [tool, *script, message, title]
    return [tool, f"--app-name={APP_NAME}", "--", title, message]


def _bounded(text: str, limit: int) -> str:
    shown = escape_control(text)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def _run(argv: Sequence[str]) -> None:
    subprocess.run(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=TIMEOUT_S,
        check=True,
    )


def desktop_notifier(
    system: str | None = None,
    *,
    which: Callable[[str], str | None] = shutil.which,
    run: Run = _run,
) -> Callable[[str, str], None] | None:
    """A ``notify(title, message)`` for this platform, or None when its tool is
    not installed. ``run`` raises on failure (the guard logs it once)."""
    system = system or sys.platform
    tool_name = "osascript" if system == "darwin" else "notify-send"
    tool = which(tool_name)
    if tool is None:
        return None
    found = tool

    def notify(title: str, message: str) -> None:
        run(notify_argv(system, found, title, message))

    return notify


def notifier_name(system: str | None = None) -> str:
    return "osascript" if (system or sys.platform) == "darwin" else "notify-send"
