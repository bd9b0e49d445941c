"""The confirmation dialogs every destructive action goes through.

``DialogBase`` lays a dialog out so it fits any terminal down to 60x15: a title,
a scrolling body, the lines that must stay in view (what is left out and why,
warnings), the buttons on one line, and a footer with the keys that work
there. Cancel has the focus; Escape, n and q cancel, y confirms.

``ConfirmDialog`` lists PID, user, role, state and command of each target and
answers with the targets it showed (the identities captured when it opened) or
None. For a reap it plans itself: ``planner`` runs in a thread worker (it takes
a fresh scan, never the displayed one) when the dialog opens and again on each
"include stale" toggle; nothing can be confirmed while a plan is on its way.
Everything from a process goes in as ``Text``, never as markup.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar, Generic, TypeVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Static

from hermes_top.core.model import ProcessInfo, ReapPlan
from hermes_top.tui.styles import STATE_STYLE
from hermes_top.view.format import STATE_MARK, STATE_WIDTH
from hermes_top.view.tree import ROLE_SHORT, short_command

#: The reap plan for a given "include stale" choice (called in a thread: it scans).
Planner = Callable[[bool], ReapPlan]
Result = TypeVar("Result")

#: Rows a dialog needs besides its body: border (2), title, buttons, the footer.
_CHROME_ROWS = 5
#: The body keeps at least this many rows (a header and two targets).
_BODY_MIN = 3


def _one_line(text: Text, width: int) -> Text:
    out = text.copy()
    out.truncate(width, overflow="ellipsis")
    return out


def target_lines(targets: Sequence[ProcessInfo], width: int) -> Text:
    out = Text(no_wrap=True, overflow="ellipsis")
    head = f"{'PID':>7} {'USER':<8} {'ROLE':<7} {'STATE':<{STATE_WIDTH}} COMMAND"
    out.append(head[:width], style="bold underline")
    fixed = 7 + 1 + 8 + 1 + 7 + 1 + STATE_WIDTH
    for p in targets:
        out.append("\n")
        out.append(f"{p.pid:>7} {p.username[:8]:<8} {ROLE_SHORT[p.role]:<7} ")
        out.append(f"{STATE_MARK[p.state]:<{STATE_WIDTH}}", style=STATE_STYLE[p.state])
        room = max(width - fixed, 10)
        cmd = " " + (short_command(p.cmdline, compact=room < 60) or f"[{p.name}]")
        out.append(cmd if len(cmd) <= room else cmd[: room - 1] + "…")
    if not targets:
        out.append("\n   (nothing to do)", style="dim")
    return out


def left_out_lines(excluded: Sequence[tuple[ProcessInfo, str]], max_pids: int = 6) -> Text:
    """ "left out — <reason>: 3010, 3011" per reason, in the order first met."""
    by_reason: dict[str, list[int]] = {}
    for proc, why in excluded:
        by_reason.setdefault(why, []).append(proc.pid)
    out = Text()
    for why, pids in by_reason.items():
        shown = ", ".join(str(p) for p in pids[:max_pids])
        more = f" and {len(pids) - max_pids} more" if len(pids) > max_pids else ""
        if out:
            out.append("\n")
        out.append("left out ", style="bold")
        # Text, not markup: reasons hold user names and other outside data.
        out.append(f"{shown}{more} — {why}")
    return out


class DialogBase(ModalScreen[Result], Generic[Result]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "confirm", "Yes"),
        Binding("n,escape,q", "cancel", "No / Esc"),
    ]

    DEFAULT_CSS = """
    DialogBase { align: center middle; }
    DialogBase > Vertical {
        width: 96%; max-width: 110; height: auto; max-height: 100%;
        border: thick $error; background: $surface; padding: 0 1;
    }
    DialogBase #title { text-style: bold; }
    DialogBase #body { height: auto; scrollbar-size-vertical: 1; }
    DialogBase #fixed { color: $text-muted; }
    DialogBase #toggle { text-style: bold; }
    DialogBase #buttons { height: 1; align-horizontal: right; }
    DialogBase Button { margin-left: 2; }
    """

    def __init__(self, title: str, verb: str) -> None:
        super().__init__()
        self._title = title
        self._verb = verb

    # What a dialog shows; subclasses fill these in.
    def title_text(self) -> Text:
        return Text(self._title)

    def body_text(self, width: int) -> Text:
        return Text()

    def fixed_text(self) -> Text:
        """Lines that stay in view under the body (reasons, warnings, notes)."""
        return Text()

    def toggle_text(self) -> Text | None:
        return None

    def can_confirm(self) -> bool:
        return True

    def result(self) -> Result:
        raise NotImplementedError

    # Layout.
    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(id="title", markup=False)
            with VerticalScroll(id="body"):
                yield Static(id="body-text", markup=False)
            yield Static(id="fixed", markup=False)
            yield Static(id="toggle", markup=False)
            with Horizontal(id="buttons"):
                yield Button("Cancel (n)", id="cancel", variant="primary", compact=True)
                yield Button(f"{self._verb} (y)", id="confirm", variant="error", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.redraw()
        self.query_one("#cancel", Button).focus()

    def on_resize(self) -> None:
        self.redraw()

    @property
    def content_width(self) -> int:
        # The dialog's border and padding (4), the body's scrollbar (1).
        width = self.app.size.width
        return max(min(width * 96 // 100, 110) - 5, 30)

    def redraw(self) -> None:
        """Fit the dialog to the screen: the title, the buttons and the fixed lines
        (one line each, cut with "…") stay in view; the body scrolls in what is left.
        Fixed lines that leave the body less than _BODY_MIN rows go to the body's end."""
        width = self.content_width
        self.query_one("#title", Static).update(_one_line(self.title_text(), width))
        toggle = self.toggle_text()
        toggle_widget = self.query_one("#toggle", Static)
        toggle_widget.display = toggle is not None
        toggle_widget.update(_one_line(toggle, width) if toggle is not None else "")
        room = self.app.size.height - _CHROME_ROWS - (toggle is not None)
        fixed = self.fixed_text()
        lines: list[Text] = list(fixed.split("\n")) if fixed else []
        budget = max(room - _BODY_MIN, 1)
        overflow: list[Text] = []
        if len(lines) > budget:
            overflow = lines[budget - 1 :]
            lines = [*lines[: budget - 1], Text(f"… {len(overflow)} more under the list", "bold")]
        fixed_widget = self.query_one("#fixed", Static)
        fixed_widget.display = bool(lines)
        fixed_widget.update(Text("\n").join(_one_line(line, width) for line in lines))
        body = self.body_text(width)
        if overflow:
            body = Text("\n").join([body, Text(""), *overflow])
        self.query_one("#body-text", Static).update(body)
        self.query_one("#body", VerticalScroll).styles.max_height = max(room - len(lines), 2)
        self.query_one("#confirm", Button).disabled = not self.can_confirm()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "confirm":
            self.action_confirm()
        else:
            self.action_cancel()

    def action_confirm(self) -> None:
        if self.can_confirm():
            self.dismiss(self.result())

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmDialog(DialogBase[tuple[ProcessInfo, ...] | None]):
    """Signal or reap ``targets``; ``excluded`` are shown with why they are left out."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("s", "toggle_stale", "Stale too")]

    def __init__(
        self,
        title: str,
        verb: str,
        targets: Sequence[ProcessInfo],
        *,
        excluded: Sequence[tuple[ProcessInfo, str]] = (),
        warnings: Sequence[str] = (),
        note: str = "",
        planner: Planner | None = None,
    ) -> None:
        super().__init__(title, verb)
        self._note = note
        self._warnings = tuple(warnings)
        self._planner = planner
        self._include_stale = False
        self.targets: tuple[ProcessInfo, ...] = tuple(targets)
        self.excluded: tuple[tuple[ProcessInfo, str], ...] = tuple(excluded)
        #: True while a plan is being made (in a thread): nothing can be confirmed.
        self.planning = planner is not None
        self._plan_error = ""
        #: Bumped on each re-plan: an answer for an older choice is dropped.
        self._generation = 0

    def on_mount(self) -> None:
        # (DialogBase.on_mount runs after this one and draws "planning …".)
        if self._planner is not None:
            self._replan()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # "s" is only for a reap (and hidden from the footer otherwise).
        return self._planner is not None if action == "toggle_stale" else True

    def _replan(self) -> None:
        self._generation += 1
        self.planning = True
        self._plan_error = ""
        self._plan_worker(self._generation, self._include_stale)

    @work(thread=True, group="plan", exit_on_error=False)
    def _plan_worker(self, generation: int, include_stale: bool) -> None:
        assert self._planner is not None
        try:
            plan: ReapPlan | Exception = self._planner(include_stale)
        except Exception as err:  # shown in the dialog; nothing can be confirmed
            plan = err
        try:
            self.app.call_from_thread(self._planned, generation, plan)
        except RuntimeError:
            pass  # the app is shutting down

    def _planned(self, generation: int, plan: ReapPlan | Exception) -> None:
        if generation != self._generation or not self.is_attached:
            return  # a newer choice is on its way, or the dialog is gone
        self.planning = False
        if isinstance(plan, Exception):
            self._plan_error = str(plan) or type(plan).__name__
            self.targets, self.excluded = (), ()
        else:
            self.targets, self.excluded = plan.targets, plan.excluded
        self.redraw()

    def title_text(self) -> Text:
        if self.planning:
            return Text(f"{self._title}: planning from a fresh scan …", style="bold")
        if self._plan_error:
            return Text(f"{self._title}: planning failed: {self._plan_error}", style="bold")
        n = len(self.targets)
        if not n:
            return Text(f"{self._title}: nothing to do", style="bold")
        return Text(f"{self._title}: {n} process{'es' if n != 1 else ''}", style="bold")

    def body_text(self, width: int) -> Text:
        if self.planning and not self.targets:
            return Text("")  # the first plan: a re-plan keeps the old list in view
        return target_lines(self.targets, width)

    def fixed_text(self) -> Text:
        out = Text()
        for warning in self._warnings:
            out.append(("\n" if out else "") + "⚠ " + warning, style="bold")
        left_out = left_out_lines(self.excluded)
        if left_out:
            out.append("\n" if out else "")
            out.append_text(left_out)
        if self._note:
            out.append(("\n" if out else "") + self._note)
        return out

    def toggle_text(self) -> Text | None:
        if self._planner is None:
            return None
        mark = "[x]" if self._include_stale else "[ ]"
        return Text(f"{mark} s: include stale workers (older twins of live ones)")

    def can_confirm(self) -> bool:
        return bool(self.targets) and not self.planning

    def result(self) -> tuple[ProcessInfo, ...] | None:
        return self.targets

    @property
    def include_stale(self) -> bool:
        return self._include_stale

    def action_toggle_stale(self) -> None:
        if self._planner is not None:
            self._include_stale = not self._include_stale
            self._replan()
            self.redraw()
