"""The fleet settings: defaults, parsing and the checks on lease timing."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config import ConfigError, Settings


def _load(tmp_path: Path, **env: str) -> Settings:
    environ = {"PAIRDESK_" + k.upper(): v for k, v in env.items()}
    return Settings.load(environ=environ, cwd=tmp_path)


def test_fleet_mode_is_off_by_default(tmp_path: Path) -> None:
    settings = _load(tmp_path)
    assert settings.fleet_database_url == ""
    assert (settings.lease_ttl, settings.lease_grace, settings.lease_margin) == (15.0, 5.0, 3.0)


def test_fleet_settings_from_the_environment_and_redacted(tmp_path: Path) -> None:
    settings = _load(
        tmp_path,
        fleet_database_url="postgresql://pd:s3cret@db:5432/fleet",
        instance_name="pairdesk-0",
        advertise_url="http://10.0.0.5:8700",
        snapshot_store="s3://bucket/prefix",
        lease_ttl="9",
    )
    assert settings.instance_name == "pairdesk-0"
    assert settings.snapshot_store == "s3://bucket/prefix"
    assert "s3cret" not in str(settings.redacted())


@pytest.mark.parametrize(
    ("key", "value"),
    [("snapshot_store", "gs://bucket"), ("advertise_url", "10.0.0.5:8700"), ("lease_ttl", "0.5")],
)
def test_bad_fleet_values_name_the_setting(tmp_path: Path, key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"PAIRDESK_{key.upper()}"):
        _load(tmp_path, **{key: value})


def test_a_margin_that_leaves_no_time_between_renewals_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="lease_margin"):
        _load(tmp_path, fleet_database_url="postgresql://db/fleet", lease_ttl="6", lease_margin="3")
