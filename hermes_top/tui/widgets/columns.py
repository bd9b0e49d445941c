"""The process table's columns and cells: which columns fit a width, and the
Rich text of every cell (process data only ever as ``Text``, never markup).

Every column's width includes a one-space gap on its left (the table's cell
padding is 0), so 80 columns hold PID, role, state, age, RSS, FDs, user and a
command of ~27 characters. Cells that move every second are shown coarsely
(ages past a minute in minutes, RSS in whole MB) so a refresh where nothing
really changed repaints nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rich.text import Text

from hermes_top.core.model import Confidence, State
from hermes_top.tui.styles import (
    FOLD_CLOSED,
    FOLD_OPEN,
    GROUP_HINT,
    LOW_CONFIDENCE_MARK,
    STATE_STYLE,
    STOPPED_MARK,
    TAG_MARK,
    TAG_STYLE,
)
from hermes_top.view.format import STATE_MARK, format_age
from hermes_top.view.tree import ROLE_SHORT, Row, Sort, short_command, short_session


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    #: Cells, gap included.
    width: int
    #: Numbers are right-aligned.
    right: bool = False
    #: The sort column it stands for (clicking its header sorts by it).
    sort: str | None = None


def _columns(widths: dict[str, int]) -> tuple[Column, ...]:
    spec = (
        ("pid", "PID", True, "pid"),
        ("role", "ROLE", False, None),
        ("session", "SESSION", False, None),
        ("state", "STATE", False, "state"),
        ("age", "AGE", True, "age"),
        ("cpu", "CPU%", True, "cpu"),
        ("rss", "RSS", True, "rss"),
        ("fds", "FDS", True, "fds"),
        ("user", "USER", False, "user"),
    )
    return tuple(Column(k, label, widths[k], right, s) for k, label, right, s in spec)


# " ! abandoned?" is the widest state cell: the mark, "?" for low confidence.
_STATE_W = 1 + max(len(m) for m in STATE_MARK.values()) + len(LOW_CONFIDENCE_MARK)
WIDE_COLUMNS = _columns(
    {
        "pid": 9,
        "role": 8,
        "session": 8,
        "state": _STATE_W,
        "age": 7,
        "cpu": 6,
        "rss": 6,
        "fds": 6,
        "user": 9,
    }
)
NARROW_COLUMNS = _columns(
    {
        "pid": 8,
        "role": 7,
        "session": 8,
        "state": _STATE_W,
        "age": 7,
        "cpu": 6,
        "rss": 5,
        "fds": 6,
        "user": 6,
    }
)
WIDE_FROM = 110
COMMAND_MIN = 18
#: Narrower than this, ``python3 -m module`` is shown as ``module``.
COMPACT_COMMAND_BELOW = 60
#: Dropped in this order until the command has COMMAND_MIN cells.
_DROP_FIRST = ("session", "role", "cpu", "rss", "user")
#: The table's vertical scrollbar (see the table's CSS).
SCROLLBAR = 1


def pick_columns(width: int, cpu: bool) -> tuple[tuple[Column, ...], int]:
    """(columns, command width) for a table ``width`` cells wide."""
    columns = [c for c in (WIDE_COLUMNS if width >= WIDE_FROM else NARROW_COLUMNS)]
    if width < WIDE_FROM:
        columns = [c for c in columns if c.key != "session"]
    if not cpu:
        columns = [c for c in columns if c.key != "cpu"]

    def room() -> int:
        return width - SCROLLBAR - sum(c.width for c in columns)

    for key in _DROP_FIRST:
        if room() >= COMMAND_MIN:
            break
        columns = [c for c in columns if c.key != key]
    return tuple(columns), max(room(), COMMAND_MIN)


def header(column: Column, sort: Sort) -> Text:
    label = column.label + (sort.arrow if column.sort == sort.column else "")
    text = Text(label, justify="right" if column.right else "left")
    if column.sort == sort.column:
        text.stylize("bold reverse")
    return text if column.right else Text(" ") + text


def coarse_age(seconds: float) -> str:
    """``format_age`` without the seconds past the first minute (7m, not 7m05s): an
    age then changes once a minute at most (42s, 7m, 3h12m, 2d04h)."""
    s = int(seconds)
    return f"{s // 60}m" if 60 <= s < 3600 else format_age(s)


def short_bytes(n: int | None) -> str:
    """812K, 24M, 1.4G: at most 4 characters, whole MB below a GB."""
    if n is None:
        return "-"
    if n < 1024 * 1024:
        return f"{n // 1024}K"
    mb = n / (1024 * 1024)
    if mb < 1000:
        return f"{int(mb)}M"
    return f"{mb / 1024:.1f}G"


def short_cpu(percent: float | None) -> str:
    if percent is None:
        return ""
    return f"{percent:.1f}" if percent < 100 else f"{percent:.0f}"


def row_sources(
    keys: Sequence[str], row: Row, tagged: bool, cpu: Mapping[int, float]
) -> tuple[object, ...]:
    """Per cell of ``row``, everything it is drawn from: equal sources mean an equal
    cell. Cheap to build and compare, so rows that did not change cost no Rich text."""
    proc = row.proc
    if proc is None:
        group = (row.group, row.collapsed, row.group_size)
        return tuple(group if k in ("state", "command") else None for k in keys)
    by_column = {
        "pid": tagged,
        "role": proc.role,
        "session": proc.session_key,
        "state": (proc.state, proc.confidence),
        "age": coarse_age(proc.age_s),
        "cpu": short_cpu(cpu.get(proc.pid)) if "cpu" in keys else None,
        "rss": short_bytes(proc.rss_bytes),
        "fds": proc.num_fds,
        "user": proc.username,
        "command": (
            row.guide,
            row.has_children,
            row.collapsed,
            proc.status,
            proc.state,
            proc.cmdline,
        ),
    }
    return tuple(by_column[k] for k in keys)


def cell(column: str, width: int, row: Row, tagged: bool, cpu: Mapping[int, float]) -> Text:
    """The cell of ``row`` in ``column`` ("command" for the last one), ``width`` wide."""
    proc = row.proc
    if column == "pid":
        pid = Text(justify="right")
        if proc is not None:
            pid.append(TAG_MARK if tagged else " ", style=TAG_STYLE)
            pid.append(str(proc.pid), style=TAG_STYLE if tagged else "")
        return pid
    if column == "command":
        return _command(row, width)
    if proc is None:
        if column == "state" and row.group is not None:
            return Text(" " + STATE_MARK[row.group], style="bold " + STATE_STYLE[row.group])
        return Text()
    if column == "state":
        text = Text(" " + STATE_MARK[proc.state], style=STATE_STYLE[proc.state])
        if proc.confidence is Confidence.LOW:
            text.append(LOW_CONFIDENCE_MARK, style="bold")
        return text
    if column == "role":
        return Text(" " + ROLE_SHORT[proc.role])
    if column == "session":
        return Text(" " + short_session(proc.session_key), style="dim")
    if column == "age":
        return Text(coarse_age(proc.age_s), justify="right")
    if column == "cpu":
        return Text(short_cpu(cpu.get(proc.pid)), justify="right")
    if column == "rss":
        return Text(short_bytes(proc.rss_bytes), justify="right", style=_dim(proc.rss_bytes))
    if column == "fds":
        fds = "-" if proc.num_fds is None else str(proc.num_fds)
        return Text(fds, justify="right", style=_dim(proc.num_fds))
    user = Text(" " + proc.username)
    user.truncate(width, overflow="ellipsis")
    return user


def _dim(value: object) -> str:
    return "dim" if value is None else ""


def _command(row: Row, width: int) -> Text:
    proc = row.proc
    fold = (FOLD_CLOSED if row.collapsed else FOLD_OPEN) + " " if row.has_children else ""
    if proc is None:
        state = row.group or State.ORPHAN
        label = Text(" " + fold, style="bold")
        label.append(f"{row.group_size} · {GROUP_HINT[state]}", style="bold")
        label.truncate(width, overflow="ellipsis")
        return label
    style = STATE_STYLE[proc.state] if proc.state is not State.LIVE else ""
    command = Text(" ")
    command.append(row.guide, style="dim")
    command.append(fold, style="bold")
    if proc.status in ("T", "t") and proc.state is not State.ZOMBIE:
        command.append(STOPPED_MARK + " ", style="bold")
    compact = width < COMPACT_COMMAND_BELOW
    command.append(short_command(proc.cmdline, compact=compact) or f"[{proc.name}]", style=style)
    if proc.status == "Z":
        command.append(" <defunct>", style=style)
    command.truncate(width, overflow="ellipsis")
    return command
