"""Settings: environment defaults, the optional TOML file, command-line overrides."""

from __future__ import annotations

import os
import pathlib

import pytest

from hermes_top.core.errors import HermesTopError, UsageError
from hermes_top.service import config
from tests.services.helpers import Home


def test_defaults_follow_the_environment(home: Home) -> None:
    s = config.load_settings(platform="darwin")
    assert s.manager == "launchd"
    assert (s.label, s.unit) == ("ai.hermes.dashboard", "hermes-dashboard.service")
    assert s.launch_agents_dir == home.launch_agents
    assert s.systemd_user_dir == home.systemd_user
    assert s.temp_dir == home.tmp
    assert (s.soft_limit, s.hard_limit) == (8192, 16384)
    assert s.domain == f"gui/{os.getuid()}"
    assert config.load_settings(platform="linux").manager == "systemd"


def test_config_file_from_xdg(home: Home) -> None:
    path = home.root / ".config" / "hermes-top" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text(
        '[service]\nmanager = "systemd"\nlabel = "ai.hermes.dashboard-work"\n'
        'unit = "hermes-work"\nlaunch_agents_dir = "~/agents"\n'
        "[limits]\nsoft = 10000\nhard = 20000\n"
    )
    s = config.load_settings()
    assert (s.manager, s.label, s.unit) == (
        "systemd",
        "ai.hermes.dashboard-work",
        "hermes-work.service",
    )
    assert s.launch_agents_dir == home.root / "agents"
    assert (s.soft_limit, s.hard_limit) == (10000, 20000)
    # The command line still wins.
    assert s.with_overrides(manager="launchd", soft_limit=9000).manager == "launchd"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[service\n", "cannot parse config file"),
        ("[service]\nlable = 'x'\n", "unknown key service.lable"),
        ("[other]\n", "unknown section [other]"),
        ("[limits]\nsoft = '8192'\n", "limits.soft must be an integer"),
        ("[limits]\nsoft = 9000\nhard = 100\n", "soft FD limit 9000 is above the hard limit 100"),
        ("[service]\nmanager = 'upstart'\n", "unknown service manager 'upstart'"),
    ],
)
def test_bad_config_is_one_clear_error(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    monkeypatch.setenv("HERMES_TOP_CONFIG", str(path))
    with pytest.raises(HermesTopError) as err:
        config.load_settings()
    assert str(err.value).startswith(f"config file {path}") or "cannot parse" in str(err.value)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_explicit_config_is_an_error(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HERMES_TOP_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(HermesTopError, match="does not exist"):
        config.load_settings()


@pytest.mark.parametrize("label", ["a/b", "with space", ""])
def test_bad_labels_are_usage_errors(home: Home, label: str) -> None:
    with pytest.raises(UsageError):
        config.check_label(label)


def test_soft_above_hard_is_a_usage_error(home: Home) -> None:
    with pytest.raises(UsageError, match="above the hard limit"):
        home.settings().with_overrides(soft_limit=20000, hard_limit=10000)
