"""Styles and marks. Every state also has a glyph and a word (view.format.STATE_MARK),
so the colours are a help, never the only signal. Under NO_COLOR Textual turns colours
into greys, which makes red and magenta rows nearly invisible on a dark
background: the monochrome set uses weight, reverse video and italics instead.
Every glyph the TUI draws is defined here and listed in help (screens/help.py)."""

from __future__ import annotations

from hermes_top.core.model import State

COLOUR_STATE_STYLE: dict[State, str] = {
    State.LIVE: "green",
    State.PARKED: "cyan",
    State.STALE: "yellow",
    State.ABANDONED: "bold yellow",
    State.ORPHAN: "bold red",
    State.ZOMBIE: "magenta",
}
MONO_STATE_STYLE: dict[State, str] = {
    State.LIVE: "",
    State.PARKED: "dim",
    State.STALE: "bold",
    State.ABANDONED: "bold underline",
    State.ORPHAN: "bold reverse",
    State.ZOMBIE: "italic",
}
#: The styles in use; ``use_monochrome`` switches them when the app starts.
STATE_STYLE: dict[State, str] = dict(COLOUR_STATE_STYLE)
TAG_STYLE = "bold yellow"

#: Before a tagged process's PID.
TAG_MARK = "*"
#: Before the command of a stopped process (kernel state T: SIGSTOP, a debugger).
STOPPED_MARK = "■"
#: In the status line while refreshing is paused.
PAUSED_MARK = "‖"
#: After the state of a leak verdict with low confidence (R leaves it alone).
LOW_CONFIDENCE_MARK = "?"
#: Fold marks of a row with children: unfolded, folded.
FOLD_OPEN, FOLD_CLOSED = "▾", "▸"
#: Before each dashboard in the header.
DASHBOARD_MARK = "▣"

#: What each group row of the tree says after its count (what it is, what to press).
GROUP_HINT: dict[State, str] = {
    State.ORPHAN: "no live host · R reaps",
    State.ABANDONED: "tab gone · R reaps sure ones",
    State.STALE: "older twin · R, then s",
    State.ZOMBIE: "defunct · L restarts parent",
    State.LIVE: "live tree",
    State.PARKED: "kept for reconnects",
}


def use_monochrome(mono: bool) -> None:
    STATE_STYLE.update(MONO_STATE_STYLE if mono else COLOUR_STATE_STYLE)
