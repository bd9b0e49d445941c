"""The signal menu (`k` / F9, as in htop): pick a signal, then the same
confirmation, pinned identities and journal as `T` and `K`."""

from __future__ import annotations

import signal
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

#: (signal, key that picks it here, what it does to a Hermes process).
SIGNALS: tuple[tuple[signal.Signals, str, str], ...] = (
    (signal.SIGTERM, "t", "ask it to exit (workers clean up)"),
    (signal.SIGKILL, "k", "end it now (no clean-up)"),
    (signal.SIGINT, "i", "interrupt, as Ctrl-C would"),
    (signal.SIGHUP, "h", "hang up (most workers exit)"),
    (signal.SIGSTOP, "s", "stop it until CONT (it holds its FDs)"),
    (signal.SIGCONT, "c", "continue a stopped process"),
)


class SignalMenu(ModalScreen[signal.Signals | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,n", "cancel", "Cancel"),
        *(
            Binding(key, f"pick({int(sig)})", sig.name.removeprefix("SIG"), show=False)
            for sig, key, _ in SIGNALS
        ),
    ]
    DEFAULT_CSS = """
    SignalMenu { align: center middle; }
    SignalMenu > Vertical {
        width: 56; max-width: 100%; height: auto; max-height: 100%;
        border: thick $warning; background: $surface; padding: 0 1;
    }
    SignalMenu #menu-title { text-style: bold; }
    SignalMenu OptionList, SignalMenu OptionList:focus {
        height: auto; max-height: 100%; border: none; padding: 0;
    }
    SignalMenu #menu-keys { color: $text-muted; }
    """

    def __init__(self, count: int) -> None:
        super().__init__()
        self._count = count

    def compose(self) -> ComposeResult:
        what = f"{self._count} process{'es' if self._count != 1 else ''}"
        with Vertical():
            yield Static(f"Send a signal to {what}", id="menu-title", markup=False)
            yield OptionList(
                *(
                    Option(
                        Text.assemble((f"{key} ", "bold"), f"{sig.name:<8} {help_}"), id=sig.name
                    )
                    for sig, key, help_ in SIGNALS
                )
            )
            yield Static(
                "↑ ↓ Enter, or the letter; a confirmation comes next", id="menu-keys", markup=False
            )
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(signal.Signals[str(event.option.id)])

    def action_pick(self, number: int) -> None:
        self.dismiss(signal.Signals(number))

    def action_cancel(self) -> None:
        self.dismiss(None)
