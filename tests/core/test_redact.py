from __future__ import annotations

from hermes_top.core.redact import REDACTED, redact_argv, redact_text


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
