"""Table lines drawn straight from cell Texts: what DataTable draws, ~10x cheaper.

DataTable renders every cell through Rich's general pipeline (Styled, Padding,
``Console.render_lines``), ~0.25 ms a cell: 110 ms for the first screen at
200x50, and again for every row that changes. A cell here is one line of Text
no wider than its column (columns.py fits each one), so the same segments come
from ``Text.render`` and the padding the pipeline would add, placed by hand.
Anything else (a tab, a newline, a wider text, centred or full justification)
goes through the general pipeline, as DataTable does. The styles, the mouse
metadata ({"row", "column"}) and the filler after the last column are
DataTable's (textual 8.2.8); tests/tui/test_table_lines.py compares every line
with a DataTable showing the same cells.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions
from rich.padding import Padding
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.renderables.styled import Styled
from textual.strip import Strip

_SIMPLE_JUSTIFY = frozenset({None, "default", "left", "right"})


def cell_segments(
    console: Console,
    options: ConsoleOptions,
    text: Text,
    width: int,
    pre: Style,
    post: Style,
) -> list[Segment]:
    """One cell ``width`` wide: ``text`` over ``pre``, with ``post`` on top (the
    cursor's colours), as DataTable's ``_render_cell`` draws it."""
    plain = text.plain
    justify = text.justify
    length = cell_len(plain)
    if justify not in _SIMPLE_JUSTIFY or "\n" in plain or "\t" in plain or length > width:
        return _general(console, options, text, width, pre, post)
    line = text
    if justify == "right":
        line = text.copy()
        line.rstrip()
        line.pad_left(width - cell_len(line.plain))
    elif justify == "left":
        line = text.copy()
        line.pad_right(width - length)
    segments: list[Segment] = []
    if line.spans or not line.style:
        rendered = line.render(console)
    else:
        rendered = [Segment(line.plain, console.get_style(line.style))]
    for segment in rendered:
        if segment.text:
            style = segment.style
            segments.append(Segment(segment.text, pre + style + post if style else pre + post))
    pad = width - cell_len(line.plain)
    if pad > 0:
        segments.append(Segment(" " * pad, pre + post))
    return segments


def _general(
    console: Console,
    options: ConsoleOptions,
    text: Text,
    width: int,
    pre: Style,
    post: Style,
) -> list[Segment]:
    lines = console.render_lines(
        Styled(Padding(text, (0, 0)), pre_style=pre, post_style=post),
        options.update_dimensions(width, 1).update(no_wrap=True),
    )
    return lines[0]


def table_line(
    console: Console,
    options: ConsoleOptions,
    cells: Sequence[Text],
    widths: Sequence[int],
    row_index: int,
    row_style: Style,
    component: Style,
    post: Style,
    width: int,
    base_style: Style,
) -> Strip:
    """One table row (``row_index`` -1: the header) as the widget ``width`` wide
    draws it: the cells, then the row's style out to the edge."""
    segments: list[Segment] = []
    for column_index, (text, cell_width) in enumerate(zip(cells, widths, strict=True)):
        meta = Style.from_meta({"row": row_index, "column": column_index})
        segments.extend(
            cell_segments(console, options, text, cell_width, row_style + meta + component, post)
        )
    remaining = max(0, width - sum(widths))
    extend = (
        row_style
        + component
        + Style.from_meta({"row": row_index, "column": 0, "out_of_bounds": True})
    )
    segments.append(Segment(" " * remaining, extend))
    return Strip(segments).adjust_cell_length(width, base_style).simplify()
