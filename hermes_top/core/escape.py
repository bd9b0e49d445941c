"""Make strings from other processes safe to put on a terminal.

argv, process names, user names and file names come from whoever started the
process: an ESC sequence in them could write the user's clipboard (OSC 52),
move the cursor over a confirmation, or a newline could forge a row. Every
character that is not printable (C0/C1 controls, DEL, bidi and zero-width
format characters, line separators, lone surrogates from undecodable bytes)
is shown as a backslash escape instead, so the text stays unambiguous and
readable and nothing reaches the terminal raw.
"""

from __future__ import annotations

from collections.abc import Sequence

_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1b": "\\e"}


def _escape_char(ch: str) -> str:
    short = _SHORT.get(ch)
    if short is not None:
        return short
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def escape_control(text: str) -> str:
    """``text`` with every non-printable character as a visible escape."""
    if text.isprintable():  # the common case, at C speed
        return text
    return "".join(ch if ch.isprintable() else _escape_char(ch) for ch in text)


def escape_argv(argv: Sequence[str]) -> tuple[str, ...]:
    return tuple(escape_control(word) for word in argv)


def escape_lines(text: str) -> str:
    """Escape every line of a multi-line message, keeping its own line breaks."""
    return "\n".join(escape_control(line) for line in text.split("\n"))
