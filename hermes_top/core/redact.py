"""Hide secrets before anything is shown, logged or journalled.

Hermes puts tokens in URLs (``ws://host/api/ws?token=...``) and users pass API
keys on command lines; none of that may reach a screen, a JSON dump or the journal.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

REDACTED = "<redacted>"

# key=value inside a word or URL query: token=..., api_key=..., password=...
_KEY_VALUE = re.compile(
    r"(?i)\b((?:access_|auth_|refresh_|session_)?token|api[_-]?key|secret|passw(?:or)?d|auth)"
    r"=([^&\s;#]+)"
)
# user:password@host in URLs.
_URL_PASSWORD = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)([^@/\s]+)(@)")
# options whose *next* word is a secret: --token X, --api-key X.
_SECRET_OPTIONS = frozenset(
    {"--token", "--api-key", "--apikey", "--password", "--secret", "--auth", "--auth-token"}
)
# Bearer tokens passed as one word.
_BEARER = re.compile(r"(?i)\b(bearer\s+)(\S+)")


def redact_text(text: str) -> str:
    text = _KEY_VALUE.sub(lambda m: f"{m.group(1)}={REDACTED}", text)
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
        if name.lower() in _SECRET_OPTIONS:
            if eq:
                out.append(f"{name}={REDACTED}")
            else:
                out.append(word)
                hide_next = True
            continue
        out.append(redact_text(word))
    return tuple(out)
