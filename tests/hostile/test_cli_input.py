"""Bad input gets one clear line and a non-zero exit; global flags always hold."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hermes_top.cli import GLOBAL_DEFAULTS, apply_globals, build_parser
from hermes_top.core.errors import UsageError
from hermes_top.sim import Simulation
from tests.core.helpers import hermes_top
from tests.harness import is_running
from tests.hostile.workers import bare_workers

ROOT = Path(__file__).resolve().parents[2]


def _args(*argv: str) -> object:
    args = build_parser(list(argv)).parse_args(list(argv))
    apply_globals(args)
    return args


def test_global_all_users_reaches_reap() -> None:
    """Before: `hermes-top --all-users reap` silently dropped --all-users."""
    assert _args("--all-users", "reap", "--dry-run").all_users is True  # type: ignore[attr-defined]
    assert _args("reap", "--all-users", "--dry-run").all_users is True  # type: ignore[attr-defined]
    assert _args("reap", "--dry-run").all_users is False  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "argv",
    [
        ("--readonly", "reap", "--yes"),
        ("--readonly", "reap", "--yes", "--pid", "4242"),
        ("--readonly", "restart", "--yes"),
        ("--readonly", "doctor", "--fix"),
    ],
)
def test_readonly_refuses_every_writing_command(argv: tuple[str, ...]) -> None:
    """Before: `hermes-top --readonly reap --yes` reaped."""
    with pytest.raises(UsageError, match="read-only"):
        _args(*argv)


def test_readonly_still_allows_what_only_reads() -> None:
    for argv in (("--readonly", "list"), ("--readonly", "reap", "--dry-run")):
        assert _args(*argv).readonly is True  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "argv",
    [("--interval", "5", "list"), ("--all-users", "status"), ("--interval", "1", "reap")],
)
def test_a_global_flag_a_command_cannot_honour_is_rejected(argv: tuple[str, ...]) -> None:
    with pytest.raises(UsageError, match="does not apply"):
        _args(*argv)


def test_every_command_is_in_the_global_flag_table() -> None:
    from hermes_top.cli import COMMAND_MODULES, GLOBALS_ACCEPTED

    assert set(COMMAND_MODULES) <= set(GLOBALS_ACCEPTED)
    assert set(GLOBAL_DEFAULTS) == set(GLOBALS_ACCEPTED[None])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")
def test_readonly_reap_signals_nothing_for_real(sim: Simulation, tmp_path: Path) -> None:
    with bare_workers(sim, 1) as (proc,):
        done = hermes_top("--readonly", "reap", "--yes", "--pid", str(proc.pid), state_dir=tmp_path)
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip().count("\n") == 0 and "read-only" in done.stderr
        assert is_running(proc.pid)
        assert not (tmp_path / "signals.jsonl").exists()


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (("reap", "--pid", "99999999999999999999999"), "PID"),
        (("reap", "--pid", "0"), "PID"),
        (("reap", "--grace", "inf", "--dry-run"), "--grace"),
        (("reap", "--grace", "1e400", "--dry-run"), "--grace"),
        (("reap", "--min-age", "nan", "--dry-run"), "--min-age"),
        (("--interval", "0", "list"), "--interval"),
        (("--interval", "1e9"), "--interval"),
        (("demo", "--max-processes", "10000000"), "--max-processes"),
        (("demo", "--leak-interval", "inf", "--no-ui"), "--leak-interval"),
    ],
)
def test_out_of_range_numbers_are_one_line_errors(
    tmp_path: Path, argv: tuple[str, ...], words: str
) -> None:
    done = hermes_top(*argv, state_dir=tmp_path)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert words in done.stderr


def test_the_tui_without_a_terminal_says_so(tmp_path: Path) -> None:
    """Before: `hermes-top` on a pipe started the UI and hung."""
    done = hermes_top(state_dir=tmp_path)  # stdin is /dev/null, stdout a pipe
    assert done.returncode == 2
    assert "needs a terminal" in done.stderr and "hermes-top list" in done.stderr
    assert done.stderr.count("\n") == 1


def test_the_tui_path_imports_no_command_module_and_still_rejects_typos(tmp_path: Path) -> None:
    """The TUI's parser knows every command by name only (their modules cost ~80 ms
    before the first paint); a mistyped command is still argparse's one-line error."""
    probe = (
        "import sys; from hermes_top.cli import build_parser; build_parser([]);"
        "print(sorted(m for m in sys.modules if m.startswith('hermes_top.commands.')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.strip() == "['hermes_top.commands.ui']", done.stderr
    typo = hermes_top("--interval", "1", "lst", state_dir=tmp_path)
    assert typo.returncode == 2 and "invalid choice: 'lst'" in typo.stderr
    assert typo.stderr.count("\n") == 1


@pytest.mark.parametrize("command", ["list --json", "list", "--help"])
def test_output_into_a_closed_pipe_is_quiet(command: str) -> None:
    """Before: `hermes-top list --json | head -1` ended in a BrokenPipeError traceback.
    `true` exits without reading, so the write always meets a closed pipe."""
    cmd = f"{sys.executable} -m hermes_top {command} | true"
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", cmd], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
    assert done.returncode in (0, 141)  # 141 = 128 + SIGPIPE, as a shell tool would


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")
def test_list_with_an_ascii_only_terminal(sim: Simulation) -> None:
    """Before: the state marks (·, ✗) crashed `list` under PYTHONIOENCODING=ascii."""
    with bare_workers(sim, 1):
        done = subprocess.run(
            [sys.executable, "-m", "hermes_top", "list"],
            cwd=ROOT,
            env=dict(os.environ, PYTHONIOENCODING="ascii"),
            capture_output=True,
            timeout=60,
        )
    assert done.returncode == 0, done.stderr
    assert b"Traceback" not in done.stderr
    done.stdout.decode("ascii")  # every byte is ASCII
    assert b"orphan" in done.stdout
