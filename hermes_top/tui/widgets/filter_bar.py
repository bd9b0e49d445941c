"""The `/` filter input: narrows rows as you type; Enter keeps it, Escape clears it."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Input


class FilterBar(Input):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "clear", "Clear filter")]

    DEFAULT_CSS = """
    FilterBar { dock: bottom; display: none; border: none; height: 1; padding: 0 1; }
    FilterBar.-shown { display: block; }
    """

    class Cleared(Message):
        """Escape: drop the filter and give the focus back to the table."""

    def action_clear(self) -> None:
        self.value = ""
        self.post_message(self.Cleared())
