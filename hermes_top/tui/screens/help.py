"""The `?` help screen: the key table, from tui/keys.py."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from hermes_top.tui.keys import KEYS

LEGEND = (
    "! asks first (a dialog names every target; Cancel is the default)\n"
    "· live  held by a live host        ~ stale   older twin of a live worker\n"
    "✗ orphan  no live host             z zombie  its parent must reap it\n"
    "FD gauge: ▲ HIGH at 80% of the soft limit, ✖ CRITICAL at 95%"
)


def help_text() -> Text:
    out = Text()
    for k in KEYS:
        out.append(f"{k.shown:>7} ", style="bold")
        out.append("! " if k.destructive else "  ", style="bold red")
        out.append(k.help)
        out.append("\n")
    out.append("\n")
    out.append(LEGEND, style="dim")
    return out


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark,f1", "close", "Close"),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical {
        width: 80; max-width: 100%; height: auto; max-height: 100%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    HelpScreen #help-title { text-style: bold; }
    HelpScreen VerticalScroll { height: auto; }
    """

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("hermes-top keys — Esc closes; ctrl+p: command palette", id="help-title")
            with VerticalScroll():
                yield Static(help_text())

    def action_close(self) -> None:
        self.dismiss(None)
