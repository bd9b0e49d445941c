"""Styles per state. Every state also has a glyph and a word (core.format.STATE_MARK), so
the colours are a help, never the only signal. Under NO_COLOR Textual turns colours
into greys, which makes red and magenta rows nearly invisible on a dark
background: the monochrome set uses weight, reverse video and italics instead."""

from __future__ import annotations

from hermes_top.core.model import State

COLOUR_STATE_STYLE: dict[State, str] = {
    State.LIVE: "green",
    State.STALE: "yellow",
    State.ORPHAN: "bold red",
    State.ZOMBIE: "magenta",
}
MONO_STATE_STYLE: dict[State, str] = {
    State.LIVE: "",
    State.STALE: "bold",
    State.ORPHAN: "bold reverse",
    State.ZOMBIE: "italic",
}
#: The styles in use; ``use_monochrome`` switches them when the app starts.
STATE_STYLE: dict[State, str] = dict(COLOUR_STATE_STYLE)
TAG_STYLE = "bold yellow"


def use_monochrome(mono: bool) -> None:
    STATE_STYLE.update(MONO_STATE_STYLE if mono else COLOUR_STATE_STYLE)
