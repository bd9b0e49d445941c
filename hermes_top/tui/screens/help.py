"""The `?` help screen: the key table (from tui/keys.py) and every glyph the
TUI draws. It scrolls (↑ ↓ PgUp PgDn Home End) when the terminal is short."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from hermes_top.core.model import State
from hermes_top.core.problems import FD_CRITICAL_RATIO, FD_HIGH_RATIO
from hermes_top.tui.keys import KEYS
from hermes_top.tui.styles import (
    DASHBOARD_MARK,
    FOLD_CLOSED,
    FOLD_OPEN,
    LOW_CONFIDENCE_MARK,
    PAUSED_MARK,
    STATE_STYLE,
    STOPPED_MARK,
    TAG_MARK,
)
from hermes_top.view.format import STATE_MARK, STATE_WIDTH

STATE_MEANING: dict[State, str] = {
    State.LIVE: "held by a live dashboard, gateway or CLI",
    State.PARKED: "a closed tab the dashboard keeps for reconnects, for a while",
    State.STALE: "an older twin of a live worker (same session, same parent)",
    State.ABANDONED: "its host is alive but nothing will talk to it again",
    State.ORPHAN: "no live host above it",
    State.ZOMBIE: "defunct: holds a PID, no FDs; only a restart of its parent clears it",
}

MARKS: tuple[tuple[str, str], ...] = (
    (LOW_CONFIDENCE_MARK, "after a state: low confidence, R leaves it alone (see the proof)"),
    (TAG_MARK, "before a PID: tagged (T, K, k act on the tagged processes)"),
    (STOPPED_MARK, "before a command: stopped (SIGSTOP); ignores TERM until CONT"),
    (f"{PAUSED_MARK} PAUSED", "in the status line: refreshing is paused (p)"),
    (f"{FOLD_OPEN} {FOLD_CLOSED}", "a row with children: unfolded / folded (← →)"),
    ("▼ ▲", "sort order: largest (oldest, most urgent) first / smallest first"),
    (DASHBOARD_MARK, "a dashboard: FD gauge, used/soft limit, version, remedy"),
    ("▲ HIGH", f"FDs at {FD_HIGH_RATIO:.0%} of the soft limit or more"),
    ("✖ CRITICAL", f"FDs at {FD_CRITICAL_RATIO:.0%} of the soft limit or more"),
)


def help_text() -> Text:
    out = Text()
    for k in KEYS:
        out.append(f"{k.shown:>9} ", style="bold")
        out.append(k.help)
        if k.destructive:
            out.append(" (asks)", style="bold")
        out.append("\n")
    out.append("\nStates\n", style="bold underline")
    for state, meaning in STATE_MEANING.items():
        out.append(f"  {STATE_MARK[state]:<{STATE_WIDTH}}", style=STATE_STYLE[state])
        out.append(f" {meaning}\n")
    out.append("\nMarks\n", style="bold underline")
    for mark, meaning in MARKS:
        out.append(f"  {mark:<{STATE_WIDTH}}", style="bold")
        out.append(f" {meaning}\n")
    out.append(
        "\n(asks): a dialog names every target and what is left out; Cancel has the focus."
        "\nIn a dialog: y confirms, n / Esc / q cancel, Tab moves between the buttons.\n"
        "Every action is also in the command palette (ctrl+p).",
        style="dim",
    )
    return out


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark,f1", "close", "Close"),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical {
        width: 84; max-width: 100%; height: auto; max-height: 100%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    HelpScreen #help-title { text-style: bold; }
    HelpScreen VerticalScroll { height: auto; }
    """

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(
                "hermes-top keys — ↑ ↓ PgUp PgDn scroll, Esc closes", id="help-title", markup=False
            )
            with VerticalScroll(id="help-scroll"):
                yield Static(help_text(), markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self._fit()
        self.query_one(VerticalScroll).focus()

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        # Border (2), title and footer stay; the text scrolls in what is left.
        room = self.app.size.height - 4
        self.query_one(VerticalScroll).styles.max_height = max(room, 3)

    def action_close(self) -> None:
        self.dismiss(None)
