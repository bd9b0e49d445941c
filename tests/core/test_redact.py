from __future__ import annotations

import random

from hermes_top.core.redact import MAYBE_SECRET, REDACTED, apply_rules, redact_argv, redact_text


def test_tokens_in_urls_are_redacted() -> None:
    text = "HERMES_TUI_GATEWAY_URL=ws://127.0.0.1:9119/api/ws?token=s3cr3t&channel=abc"
    out = redact_text(text)
    assert "s3cr3t" not in out
    assert f"token={REDACTED}&channel=abc" in out


def test_secret_options_hide_the_next_word() -> None:
    argv = ["x", "--api-key", "sk-123", "--token=abc", "--model", "m", "https://u:pw@h/p"]
    out = redact_argv(argv)
    assert "sk-123" not in out
    assert "--token=abc" not in out
    assert out[4:6] == ("--model", "m")
    assert all("pw" not in word for word in out)


def test_plain_argv_is_unchanged() -> None:
    argv = ("python3", "-m", "tui_gateway.slash_worker", "--session-key", "20260101_000000_abcdef")
    assert redact_argv(argv) == argv


def test_secret_names_in_env_assignments_and_options() -> None:
    argv = [
        "OPENAI_API_KEY=sk-1",
        "--openai-api-key",
        "sk-2",
        "--api_key",
        "k3",
        "--key",
        "k4",
        "ws://h/api/ws?tok%65n=k5&channel=z",
        "HERMES_TUI_SIDECAR_URL=ws://h/?channel=c&token=k6==",
    ]
    out = " ".join(redact_argv(argv))
    for secret in ("sk-1", "sk-2", "k3", "k4", "k5", "k6"):
        assert secret not in out
    assert "channel=z" in out and "channel=c" in out


def test_look_alike_names_are_not_hidden() -> None:
    argv = ["--session-key", "20260101_000000_abcdef", "--keyboard", "us", "monkey=1"]
    assert redact_argv(argv) == tuple(argv)


# One sample per rule (each provider's key shape included): the pre-filter must
# let every one of them through to the rules.
_SECRET_SAMPLES = [
    "ws://127.0.0.1:9119/api/ws?token=abcdef",
    "https://user:hunter2@example.com/x",
    "Authorization: Basic dXNlcjpwYXNz",
    "Cookie: a=b",
    "Bearer abc.def.ghi",
    "sk-ant-abcdefghijklmnopqrstuv",
    "sk_live_abcdefghijklmnop1234",
    "rk_test_abcdefghijklmnop1234",
    "ghp_" + "a" * 36,
    "github_pat_" + "b" * 40,
    "glpat-" + "c" * 20,
    "xoxb-1234567890-abcdef",
    "AKIA" + "A" * 16,
    "ASIA" + "B" * 16,
    "AIza" + "d" * 35,
    "hf_" + "e" * 34,
    "gsk_" + "f" * 24,
    "xai-" + "g" * 24,
    "eyJhbGciOiJIUzI1.eyJzdWIiOiIxMjM0.SflKxwRJSMeKKF2QT4f",
    "API_KEY=abc",
]


def test_the_pre_filter_lets_every_secret_shape_through() -> None:
    for sample in _SECRET_SAMPLES:
        assert MAYBE_SECRET.search(sample), sample
        assert redact_text(sample) == apply_rules(sample) != sample, sample


def test_the_pre_filter_never_changes_a_result() -> None:
    """Over random words made of the rules' own fragments, with and without the
    pre-filter, the same text comes out."""
    rng = random.Random(24775)
    parts = [
        "sk-", "ghp_", "AKIA", "eyJ", "=", ":", "@", "//", "bearer ", "token", "x", "-",
        "_", ".", "a" * 20, "0123456789", "/usr/bin/", "--", "Key", "hf_", "xox", "b-",
    ]  # fmt: skip
    for _ in range(5000):
        word = "".join(rng.choice(parts) for _ in range(rng.randint(1, 6)))
        assert redact_text(word) == apply_rules(word), word
