"""The `/` filter: one line above the footer, "filter /" then what was typed.

It narrows rows as you type; Enter keeps the filter and goes back to the table,
Escape (here or in the table) clears it. While a filter is on the line stays
visible, so it is always clear why rows are missing.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input, Static


class FilterBar(Input):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "clear", "Clear filter")]

    DEFAULT_CSS = """
    FilterBar, FilterBar:focus {
        border: none; height: 1; padding: 0 1; width: 1fr;
        background: $boost;
    }
    """

    class Cleared(Message):
        """Escape: drop the filter and give the focus back to the table."""

    def action_clear(self) -> None:
        self.value = ""
        self.post_message(self.Cleared())


class FilterRow(Horizontal):
    """The prompt, the input and what Enter / Escape do."""

    DEFAULT_CSS = """
    FilterRow { height: 1; display: none; background: $boost; }
    FilterRow.-shown { display: block; }
    FilterRow #filter-prompt { width: auto; text-style: bold; padding: 0 0 0 1; }
    FilterRow #filter-keys { width: auto; color: $text-muted; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        yield Static("filter /", id="filter-prompt", markup=False)
        yield FilterBar(placeholder="pid, role, state, user, session, command", id="filter")
        yield Static("Enter keeps · Esc clears", id="filter-keys", markup=False)
