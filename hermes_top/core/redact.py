"""Hide secrets before anything is shown, logged or journalled.

Hermes puts tokens in URLs (``ws://host/api/ws?token=...``) and users pass API
keys on command lines; none of that may reach a screen, a JSON dump or the
journal. Secrets are found by shape: an option or a ``name=value`` whose name
says secret, an HTTP header that carries credentials, a URL password, and the
bare key formats of the common providers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

REDACTED = "<redacted>"

#: Name parts that mark a secret (names are split on - _ . into parts).
_SECRET_PARTS = frozenset(
    {
        "token",
        "tok%65n",
        "key",
        "apikey",
        "secret",
        "password",
        "passwd",
        "passphrase",
        "pass",
        "pw",
        "pwd",
        "auth",
        "authorization",
        "bearer",
        "credential",
        "credentials",
        "cookie",
        "sig",
        "signature",
        "jwt",
        "private",
    }
)
#: Options that look secret by name but are not (shown as they are).
_NOT_SECRET_NAMES = frozenset({"session-key", "session_key"})
#: Options whose value is ``user:password``.
_USER_PASSWORD_OPTIONS = frozenset({"-u", "--user", "--proxy-user"})
# name=value inside a word, an environment assignment or a URL query.
_KEY_VALUE = re.compile(r"(?<![A-Za-z0-9%_.-])([A-Za-z0-9%_.-]+)=([^&\s;#?]+)")
# user:password@host in URLs.
_URL_PASSWORD = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)([^@/\s]+)(@)")
# An HTTP header line, as given to curl -H or --header=.
_HEADER = re.compile(r"^(\s*)([A-Za-z0-9-]+)(\s*:\s*)(\S.*)$")
_CREDENTIAL_HEADERS = frozenset({"cookie", "set-cookie", "proxy-authorization"})
# Bearer tokens passed as one word.
_BEARER = re.compile(r"(?i)\b(bearer\s+)(\S+)")
# Bare keys of the common providers, recognisable without a name.
_PROVIDER_KEY = re.compile(
    r"(?<![A-Za-z0-9_-])(?:"
    r"sk-[A-Za-z0-9_-]{16,}"  # OpenAI, Anthropic (sk-ant-), OpenRouter (sk-or-)
    r"|[sr]k_(?:live|test)_[A-Za-z0-9]{16,}"  # Stripe
    r"|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}"  # GitHub
    r"|glpat-[A-Za-z0-9_-]{20,}"  # GitLab
    r"|xox[abposr]-[A-Za-z0-9-]{10,}"  # Slack
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}"  # AWS access key ids
    r"|AIza[0-9A-Za-z_-]{35}"  # Google
    r"|hf_[A-Za-z0-9]{30,}"  # Hugging Face
    r"|gsk_[A-Za-z0-9]{20,}|xai-[A-Za-z0-9]{20,}"  # Groq, xAI
    r"|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"  # JWT
    r")"
)


#: Every text any rule above can match contains one of these (case aside); a word
#: without any is shown as it is, without running the rules (a scan redacts the
#: argv of every Hermes process: most words are paths and plain options).
MAYBE_SECRET = re.compile(
    r"[=:@]|bearer|sk-|[sr]k_|gh[pousr]_|github_pat_|glpat-|xox|akia|asia|aiza|hf_|gsk_|xai-|eyj",
    re.IGNORECASE,
)
_NAME_PARTS = re.compile(r"[-_.]")


def is_secret_name(name: str) -> bool:
    """token, api_key, OPENAI_API_KEY, --auth-token, --pw ... but not --session-key."""
    bare = name.lstrip("-").lower()
    if bare in _NOT_SECRET_NAMES:
        return False
    return any(part in _SECRET_PARTS for part in _NAME_PARTS.split(bare))


def _header(text: str) -> str | None:
    """``Authorization: Basic …`` → ``Authorization: <redacted>``; None if not a secret header."""
    m = _HEADER.match(text)
    if m is None:
        return None
    name = m.group(2).lower()
    if name in _CREDENTIAL_HEADERS or is_secret_name(name):
        return f"{m.group(1)}{m.group(2)}{m.group(3)}{REDACTED}"
    return None


def redact_text(text: str) -> str:
    if MAYBE_SECRET.search(text) is None:
        return text
    return apply_rules(text)


def apply_rules(text: str) -> str:
    """Every rule, with no pre-filter (redact_text's reference, in the tests)."""
    header = _header(text)
    if header is not None:
        return header
    text = _KEY_VALUE.sub(
        lambda m: f"{m.group(1)}={REDACTED}" if is_secret_name(m.group(1)) else m.group(0), text
    )
    text = _URL_PASSWORD.sub(lambda m: f"{m.group(1)}{REDACTED}{m.group(3)}", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    return _PROVIDER_KEY.sub(REDACTED, text)


def _user_password(value: str) -> str:
    user, colon, _ = value.partition(":")
    return f"{user}:{REDACTED}" if colon else value


def redact_argv(argv: Sequence[str]) -> tuple[str, ...]:
    out: list[str] = []
    hide_next: str | None = None  # the option whose value comes next
    for word in argv:
        if hide_next is not None:
            option, hide_next = hide_next, None
            if word.startswith("--"):
                pass  # the secret option took no value: this is the next option
            elif option in _USER_PASSWORD_OPTIONS:
                out.append(_user_password(word))
                continue
            else:
                out.append(REDACTED)
                continue
        name, eq, value = word.partition("=")
        if name.startswith("-") and (is_secret_name(name) or name in _USER_PASSWORD_OPTIONS):
            if eq:
                shown = _user_password(value) if name in _USER_PASSWORD_OPTIONS else REDACTED
                out.append(f"{name}={shown}")
            else:
                out.append(word)
                hide_next = name
            continue
        if eq and name.startswith("--") and _header(value) is not None:
            out.append(f"{name}={_header(value)}")  # --header=Authorization: ...
            continue
        out.append(redact_text(word))
    return tuple(out)
