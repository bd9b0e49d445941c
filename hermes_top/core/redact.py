"""Hide secrets before anything is shown, logged or journalled.

Hermes puts tokens in URLs (``ws://host/api/ws?token=...``) and users pass API
keys on command lines; none of that may reach a screen, a JSON dump or the journal.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

REDACTED = "<redacted>"

#: Name parts that mark a secret (names are split on - _ . into parts).
_SECRET_PARTS = frozenset(
    {"token", "tok%65n", "key", "apikey", "secret", "password", "passwd", "auth", "bearer"}
)
#: Options that look secret by name but are not (shown as they are).
_NOT_SECRET_NAMES = frozenset({"session-key", "session_key"})
# name=value inside a word, an environment assignment or a URL query.
_KEY_VALUE = re.compile(r"(?<![A-Za-z0-9%_.-])([A-Za-z0-9%_.-]+)=([^&\s;#?]+)")
# user:password@host in URLs.
_URL_PASSWORD = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)([^@/\s]+)(@)")


def is_secret_name(name: str) -> bool:
    """token, api_key, OPENAI_API_KEY, --auth-token ... but not --session-key or --keyboard."""
    bare = name.lstrip("-").lower()
    if bare in _NOT_SECRET_NAMES:
        return False
    return any(part in _SECRET_PARTS for part in re.split(r"[-_.]", bare))


# Bearer tokens passed as one word.
_BEARER = re.compile(r"(?i)\b(bearer\s+)(\S+)")


def redact_text(text: str) -> str:
    text = _KEY_VALUE.sub(
        lambda m: f"{m.group(1)}={REDACTED}" if is_secret_name(m.group(1)) else m.group(0), text
    )
    text = _URL_PASSWORD.sub(lambda m: f"{m.group(1)}{REDACTED}{m.group(3)}", text)
    return _BEARER.sub(lambda m: f"{m.group(1)}{REDACTED}", text)


def redact_argv(argv: Sequence[str]) -> tuple[str, ...]:
    out: list[str] = []
    hide_next = False
    for word in argv:
        if hide_next:
            out.append(REDACTED)
            hide_next = False
            continue
        name, eq, _value = word.partition("=")
        if name.startswith("-") and is_secret_name(name):
            if eq:
                out.append(f"{name}={REDACTED}")
            else:
                out.append(word)
                hide_next = True
            continue
        out.append(redact_text(word))
    return tuple(out)
