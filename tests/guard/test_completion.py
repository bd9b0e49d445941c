"""Completion scripts and the man page come from the parser: every subcommand
and its options are in them, and the shells accept them."""

from __future__ import annotations

import contextlib
import io
import shutil
import subprocess

import pytest

from hermes_top.cli import COMMAND_MODULES, build_parser, main
from hermes_top.commands.completion import describe


def _generate(kind: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["completion", kind]) == 0
    return out.getvalue()


@pytest.mark.parametrize("kind", ["bash", "zsh", "fish", "man"])
def test_output_names_every_subcommand(kind: str) -> None:
    text = _generate(kind)
    for name in COMMAND_MODULES:
        assert name in text, f"{kind}: {name} missing"
    # and the options of one, taken from the parser (not a hand-kept list)
    guard = next(c for c in describe(build_parser(all_commands=True)).commands if c.name == "guard")
    assert guard.options  # the real parser, not a name-only one
    for option in guard.options:
        long = next(n for n in option.names if n.startswith("--"))
        shown = long.replace("-", "\\-") if kind == "man" else long
        if kind == "fish":
            shown = f"-l {long[2:]}"
        assert shown in text, f"{kind}: guard {long} missing"


def test_a_new_subcommand_would_appear() -> None:
    parser = build_parser(all_commands=True)
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    extra = sub.add_parser("zz-new", help="made up")  # type: ignore[attr-defined]
    extra.add_argument("--shiny", action="store_true")
    names = [c.name for c in describe(parser).commands]
    assert names[-1] == "zz-new"
    assert set(COMMAND_MODULES) <= set(names)


def _bash(script: str, words: list[str]) -> list[str]:
    probe = (
        f"{script}\nCOMP_WORDS=({' '.join(repr(w) for w in words)}); "
        f"COMP_CWORD={len(words) - 1}; _hermes_top; printf '%s\\n' \"${{COMPREPLY[@]}}\""
    )
    out = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_bash_completion_completes() -> None:
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    script = _generate("bash")
    assert subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0
    assert _bash(script, ["hermes-top", "--readonly", "gu"]) == ["guard"]
    assert _bash(script, ["hermes-top", "guard", "ins"]) == ["install"]
    assert _bash(script, ["hermes-top", "guard", "--manager", ""]) == ["launchd", "systemd"]
    assert set(_bash(script, ["hermes-top", "completion", ""])) == {"bash", "zsh", "fish", "man"}
    assert _bash(script, ["hermes-top", "guard", "--interval", ""]) == []


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_other_shells_parse_their_script(shell: str) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed here")
    out = subprocess.run([shell, "-n"], input=_generate(shell), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_man_page_renders_without_warnings() -> None:
    page = _generate("man")
    assert page.startswith(".TH HERMES\\-TOP 1 ")
    for name in COMMAND_MODULES:
        assert f'.SS "{name}"' in page
    if shutil.which("groff") is None:
        pytest.skip("groff is not installed here")
    out = subprocess.run(
        ["groff", "-man", "-Tutf8", "-ww", "-z"], input=page, capture_output=True, text=True
    )
    assert out.returncode == 0 and out.stderr == "", out.stderr
