"""The one seam that runs external commands (launchctl, systemctl).

Everything else in the services package goes through :func:`run`, so "binary not
installed", "timed out" and "exited non-zero" each become one clear
:class:`HermesTopError` that names the command and quotes its stderr.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from hermes_top.core.errors import HermesTopError

#: launchctl/systemctl answer in well under a second; a hang means something is wrong.
DEFAULT_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class CommandResult:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def command(self) -> str:
        return format_command(self.argv)


def format_command(argv: Sequence[str]) -> str:
    """The argv as a user could paste it into a shell."""
    return shlex.join(argv)


def first_line(text: str) -> str:
    """The first non-empty line of a command's output, for one-line error messages."""
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def run(
    argv: Sequence[str], *, check: bool = True, timeout: float = DEFAULT_TIMEOUT_S
) -> CommandResult:
    """Run ``argv`` (looked up on $PATH) and capture its output.

    Raises HermesTopError when the binary is missing or times out, and, with
    ``check``, when it exits non-zero.
    """
    argv = tuple(argv)
    command = format_command(argv)
    # Looked up explicitly so "not installed" is told apart from a failing command.
    if shutil.which(argv[0]) is None:
        raise HermesTopError(f"{argv[0]} not found on PATH (needed to run: {command})")
    try:
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as err:
        raise HermesTopError(f"{command} timed out after {timeout:g} s") from err
    except OSError as err:
        raise HermesTopError(f"cannot run {command}: {err.strerror or err}") from err
    result = CommandResult(argv, proc.returncode, proc.stdout, proc.stderr)
    if check and not result.ok:
        raise command_failed(result)
    return result


def command_failed(result: CommandResult) -> HermesTopError:
    """The one-line error for a command that exited non-zero."""
    why = first_line(result.stderr) or first_line(result.stdout) or "no output"
    return HermesTopError(f"{result.command} failed (exit {result.returncode}): {why}")
