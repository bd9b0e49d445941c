"""`hermes-top completion bash|zsh|fish|man`: shell completion scripts and a man
page, generated from the argparse parser itself (so they never drift from it).

    source <(hermes-top completion bash)                     # ~/.bashrc
    hermes-top completion zsh > "${fpath[1]}/_hermes-top"    # or source it
    hermes-top completion fish > ~/.config/fish/completions/hermes-top.fish
    hermes-top completion man > ~/.local/share/man/man1/hermes-top.1
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

SHELLS = ("bash", "zsh", "fish")
#: Metavars of options whose value is a file name (others get no completion).
PATH_METAVARS = frozenset({"PATH", "FILE"})
PROG = "hermes-top"


def register(sub: Any) -> None:
    p = sub.add_parser(
        "completion",
        help="print a shell completion script (bash, zsh, fish) or the man page (man)",
        description="bash: source <(hermes-top completion bash); zsh: save as _hermes-top "
        "on $fpath (or source it); fish: save as ~/.config/fish/completions/hermes-top.fish; "
        "man: save as man1/hermes-top.1 on $MANPATH.",
    )
    p.add_argument("shell", choices=(*SHELLS, "man"), help="bash, zsh, fish or man")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hermes_top.cli import build_parser

    parser = build_parser([])  # every command, whatever argv says
    spec = describe(parser)
    out = {"bash": bash, "zsh": zsh, "fish": fish, "man": man_page}[args.shell](spec)
    print(out, end="")
    return 0


# -- the parser, described ---------------------------------------------------------------


@dataclass
class Option:
    names: tuple[str, ...]
    help: str
    #: Takes a value (its metavar), or None for a flag.
    metavar: str | None
    choices: tuple[str, ...] = ()


@dataclass
class Command:
    name: str
    help: str
    description: str
    options: list[Option] = field(default_factory=list)
    #: Positional arguments: (metavar, choices, help).
    positionals: list[tuple[str, tuple[str, ...], str]] = field(default_factory=list)


@dataclass
class Spec:
    description: str
    epilog: str
    version: str
    options: list[Option]
    commands: list[Command]


def _help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    if not action.help or action.help == argparse.SUPPRESS:
        return ""
    formatter = parser._get_formatter()
    text: str = formatter._expand_help(action)
    return " ".join(text.split())


def _options(parser: argparse.ArgumentParser) -> tuple[list[Option], list[Any]]:
    options: list[Option] = []
    positionals: list[Any] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            continue
        if not action.option_strings:
            choices = tuple(str(c) for c in action.choices) if action.choices else ()
            positionals.append((action.metavar or action.dest, choices, _help(parser, action)))
            continue
        if action.help == argparse.SUPPRESS:
            continue
        takes = action.nargs != 0
        metavar = None
        if takes:
            metavar = str(action.metavar or action.dest.upper())
        choices = tuple(str(c) for c in action.choices) if action.choices else ()
        options.append(
            Option(tuple(action.option_strings), _help(parser, action), metavar, choices)
        )
    return options, positionals


def describe(parser: argparse.ArgumentParser) -> Spec:
    options, _ = _options(parser)
    commands: list[Command] = []
    version = ""
    for action in parser._actions:
        if isinstance(action, argparse._VersionAction):
            version = str(action.version or "")
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {a.dest: a.help or "" for a in action._choices_actions}
        for name, sub in action.choices.items():
            sub_options, positionals = _options(sub)
            commands.append(
                Command(
                    name,
                    " ".join(helps.get(name, "").split()).replace("%%", "%"),
                    " ".join((sub.description or "").split()).replace("%%", "%"),
                    [o for o in sub_options if o.names != ("-h", "--help")],
                    positionals,
                )
            )
    return Spec(
        parser.description or "",
        parser.epilog or "",
        version,
        [o for o in options if o.names != ("-h", "--help")],
        commands,
    )


# -- bash --------------------------------------------------------------------------------


def _words(options: list[Option], extra: tuple[str, ...] = ()) -> str:
    return " ".join([*extra, *(n for o in options for n in o.names)])


def bash(spec: Spec) -> str:
    names = "|".join(c.name for c in spec.commands)
    lines = [
        f"# bash completion for {PROG} (generated by `{PROG} completion bash`)",
        "_hermes_top() {",
        '    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"',
        '    local cmd="" i opts=""',
        "    for ((i = 1; i < COMP_CWORD; i++)); do",
        '        case "${COMP_WORDS[i]}" in',
        f'            {names}) cmd="${{COMP_WORDS[i]}}"; break ;;',
        "        esac",
        "    done",
        '    case "$cmd:$prev" in',
    ]
    for cmd_name, options in [("", spec.options), *((c.name, c.options) for c in spec.commands)]:
        for o in options:
            if o.choices:
                pattern = "|".join(f"{cmd_name}:{n}" for n in o.names)
                lines.append(
                    f'        {pattern}) COMPREPLY=($(compgen -W "{" ".join(o.choices)}" '
                    '-- "$cur")); return ;;'
                )
            elif o.metavar is not None:
                pattern = "|".join(f"{cmd_name}:{n}" for n in o.names)
                reply = '$(compgen -f -- "$cur")' if o.metavar in PATH_METAVARS else ""
                lines.append(f"        {pattern}) COMPREPLY=({reply}); return ;;")
    lines += ["    esac", '    case "$cmd" in']
    top = _words(spec.options, tuple(c.name for c in spec.commands))
    lines.append(f'        "") opts="{top}" ;;')
    for c in spec.commands:
        positional = tuple(ch for _, choices, _ in c.positionals for ch in choices)
        lines.append(f'        {c.name}) opts="{_words(c.options, positional)}" ;;')
    lines += [
        "    esac",
        '    COMPREPLY=($(compgen -W "$opts" -- "$cur"))',
        "}",
        f"complete -F _hermes_top {PROG}",
        "",
    ]
    return "\n".join(lines)


# -- zsh ---------------------------------------------------------------------------------


def _zq(text: str) -> str:
    """A zsh single-quoted word."""
    return "'" + text.replace("'", "'\\''") + "'"


def zsh(spec: Spec) -> str:
    names = "|".join(c.name for c in spec.commands)
    lines = [
        f"#compdef {PROG}",
        f"# zsh completion for {PROG} (generated by `{PROG} completion zsh`)",
        "_hermes_top() {",
        '    local cmd="" w prev="${words[CURRENT-1]}"',
        "    local -a cmds",
        "    cmds=(",
    ]
    lines += [f"        {_zq(c.name + ':' + c.help.replace(':', ' '))}" for c in spec.commands]
    lines += [
        "    )",
        '    for w in "${(@)words[2,CURRENT-1]}"; do',
        f'        case "$w" in ({names}) cmd="$w"; break ;; esac',
        "    done",
        '    case "$cmd:$prev" in',
    ]
    for cmd_name, options in [("", spec.options), *((c.name, c.options) for c in spec.commands)]:
        for o in options:
            pattern = "|".join(f"{cmd_name}:{n}" for n in o.names)
            if o.choices:
                lines.append(f"        ({pattern}) compadd -- {' '.join(o.choices)}; return ;;")
            elif o.metavar in PATH_METAVARS:
                lines.append(f"        ({pattern}) _files; return ;;")
            elif o.metavar is not None:
                lines.append(f"        ({pattern}) _message {_zq(o.metavar)}; return ;;")
    lines += ["    esac", '    case "$cmd" in']
    lines.append(
        f'        ("") _describe -t commands {_zq(PROG + " command")} cmds; '
        f"compadd -- {_words(spec.options)} ;;"
    )
    for c in spec.commands:
        positional = tuple(ch for _, choices, _ in c.positionals for ch in choices)
        words = _words(c.options, positional)
        lines.append(
            f"        ({c.name}) compadd -- {words} ;;" if words else f"        ({c.name}) ;;"
        )
    lines += [
        "    esac",
        "}",
        'if [[ "${funcstack[1]}" == _hermes_top || "${funcstack[1]}" == _hermes-top ]]; then',
        '    _hermes_top "$@"',
        "else",
        f"    compdef _hermes_top {PROG}",
        "fi",
        "",
    ]
    return "\n".join(lines)


# -- fish --------------------------------------------------------------------------------


def _fq(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fish_option(condition: str, o: Option) -> str:
    parts = [f"complete -c {PROG} -n {_fq(condition)}"]
    for n in o.names:
        parts.append(f"-l {n[2:]}" if n.startswith("--") else f"-s {n[1:]}")
    if o.choices:
        parts.append(f"-x -a {_fq(' '.join(o.choices))}")
    elif o.metavar in PATH_METAVARS:
        parts.append("-r -F")
    elif o.metavar is not None:
        parts.append("-x")
    if o.help:
        parts.append(f"-d {_fq(o.help[:80])}")
    return " ".join(parts)


def fish(spec: Spec) -> str:
    names = " ".join(c.name for c in spec.commands)
    lines = [
        f"# fish completion for {PROG} (generated by `{PROG} completion fish`)",
        f"complete -c {PROG} -f",
    ]
    for o in spec.options:
        lines.append(_fish_option("__fish_use_subcommand", o))
    for c in spec.commands:
        lines.append(
            f"complete -c {PROG} -n __fish_use_subcommand -a {c.name} -d {_fq(c.help[:80])}"
        )
    for c in spec.commands:
        seen = f"__fish_seen_subcommand_from {c.name}"
        for _, choices, help_text in c.positionals:
            if choices:
                lines.append(
                    f"complete -c {PROG} -n {_fq(seen)} -a {_fq(' '.join(choices))} "
                    f"-d {_fq(help_text[:80] or 'argument')}"
                )
        for o in c.options:
            lines.append(_fish_option(seen, o))
    lines.append(f"# commands: {names}")
    lines.append("")
    return "\n".join(lines)


# -- man ---------------------------------------------------------------------------------


def _roff(text: str) -> str:
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return re.sub(r"(?m)^([.'])", r"\\&\1", text)


def _option_line(o: Option) -> str:
    names = ", ".join(f"\\fB{_roff(n)}\\fR" for n in o.names)
    if o.choices:
        return f"{names} {{{_roff('|'.join(o.choices))}}}"
    if o.metavar is not None:
        return f"{names} \\fI{_roff(o.metavar)}\\fR"
    return names


def _usage(c: Command) -> str:
    parts = [f"\\fB{PROG} {_roff(c.name)}\\fR"]
    for metavar, choices, _ in c.positionals:
        parts.append(_roff("{" + "|".join(choices) + "}" if choices else metavar))
    for o in c.options:
        name = _roff(o.names[-1])
        parts.append(f"[{name} \\fI{_roff(o.metavar)}\\fR]" if o.metavar else f"[{name}]")
    return " ".join(parts)


def man_page(spec: Spec, today: dt.date | None = None) -> str:
    date = (today or dt.date.today()).isoformat()
    version = spec.version or PROG
    lines = [
        f'.TH HERMES\\-TOP 1 "{date}" "{_roff(version)}" "User Commands"',
        ".SH NAME",
        f"{PROG} \\- {_roff(spec.description)}",
        ".SH SYNOPSIS",
        f"\\fB{PROG}\\fR [\\fIglobal options\\fR] [\\fICOMMAND\\fR [\\fIoptions\\fR]]",
        ".SH DESCRIPTION",
        _roff(spec.epilog or spec.description),
        ".SH GLOBAL OPTIONS",
        "Given before the command; each command honours them or rejects them.",
    ]
    for o in spec.options:
        lines += [".TP", _option_line(o), _roff(o.help)]
    lines.append(".SH COMMANDS")
    for c in spec.commands:
        lines += [f'.SS "{_roff(c.name)}"', _usage(c), ".PP", _roff(c.help)]
        if c.description:
            lines += [".PP", _roff(c.description)]
        for metavar, _choices, help_text in c.positionals:
            if help_text:
                lines += [".TP", f"\\fI{_roff(metavar)}\\fR", _roff(help_text)]
        for o in c.options:
            lines += [".TP", _option_line(o), _roff(o.help)]
    lines += [
        ".SH EXIT STATUS",
        "0 on success; 1 when something was found or not done (see each command); "
        "2 on usage errors.",
        ".SH FILES",
        ".TP",
        "\\fI~/.local/state/hermes\\-top/signals.jsonl\\fR",
        "the journal of every signal sent ($HERMES_TOP_STATE_DIR overrides the folder)",
        ".TP",
        "\\fI~/.config/hermes\\-top/config.toml\\fR",
        "service settings ($HERMES_TOP_CONFIG overrides it)",
        ".SH SEE ALSO",
        "\\fBlaunchctl\\fR(1), \\fBsystemctl\\fR(1)",
        "",
    ]
    return "\n".join(lines)
