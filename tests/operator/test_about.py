"""What About says: version, install kind and settings, never a secret."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import app
from app.config import Settings
from app.operator import about


def test_details_name_the_version_and_where_things_are(tmp_path: Path) -> None:
    settings = Settings.load(environ={}, cwd=tmp_path).with_overrides(data_dir=str(tmp_path))
    rows = dict(about.details(settings, config_file=None))
    assert rows["pairdesk"] == app.__version__
    assert rows["settings file"] == "none (built-in defaults)"
    assert rows["mode"].startswith("sandbox")
    assert rows["database"] == f"sqlite:///{tmp_path / 'pairdesk.db'}"
    assert rows["installed as"].startswith("source checkout")  # these tests run from one


def test_production_details_hide_the_database_password(tmp_path: Path) -> None:
    settings = Settings.load(environ={}, cwd=tmp_path).with_overrides(
        provider_url="https://web.whatsapp.com/",
        central_url="https://platform.example.com",
        webhook_secret="s3cret",
        database_url="postgresql://pd:hunter2@db/pd",
    )
    text = about.as_text(about.details(settings, config_file=tmp_path / "pairdesk.toml"))
    assert "production (https://web.whatsapp.com/)" in text
    assert "hunter2" not in text and "s3cret" not in text


def test_the_desktop_bundle_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert about.install_kind() == "desktop bundle"
