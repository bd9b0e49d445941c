"""Colours per state. Every state also has a glyph and a word (tree.STATE_MARK), so
the colours are a help, never the only signal (NO_COLOR)."""

from __future__ import annotations

from hermes_top.core.model import State

STATE_STYLE: dict[State, str] = {
    State.LIVE: "green",
    State.STALE: "yellow",
    State.ORPHAN: "bold red",
    State.ZOMBIE: "magenta",
}
TAG_STYLE = "bold yellow"
