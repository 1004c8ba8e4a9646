"""The instance command line the supervisor builds."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import pytest

from app.config import Settings
from app.engine.supervisor.launcher import InstanceLauncher


def test_the_child_finds_this_checkout_and_gets_its_settings(tmp_path: Path) -> None:
    settings = Settings.load(
        environ={}, cwd=tmp_path, flags={"data_dir": tmp_path, "sessions_dir": tmp_path / "s"}
    )
    spec = InstanceLauncher(settings=settings, provider_url="http://127.0.0.1:1/").spec(
        index=3, token="t" * 32
    )
    root = Path(spec.env["PYTHONPATH"].split(os.pathsep)[0])
    # The folder holding the `app` package: never `app/` itself, whose packages would
    # shadow the standard library's in the child.
    assert (root / "app" / "__init__.py").is_file()
    assert spec.argv[-7:] == ["app", "instance", "--index", "3", "--port", "0", "--supervised"]
    assert spec.env["PAIRDESK_PROVIDER_URL"] == "http://127.0.0.1:1/"
    assert spec.env["PAIRDESK_SESSIONS_DIR"] == str((tmp_path / "s").resolve())


def test_in_the_desktop_bundle_the_child_is_the_bundles_own_executable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PyInstaller sets sys.frozen; sys.executable is then `pairdesk`, which has no `-m`.
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", "/opt/pairdesk/pairdesk")
    settings = Settings.load(environ={}, cwd=tmp_path, flags={"data_dir": tmp_path})
    spec = InstanceLauncher(settings=settings, provider_url="http://127.0.0.1:1/").spec(
        index=1, token="t" * 32
    )
    assert spec.argv == [
        "/opt/pairdesk/pairdesk",
        *("instance", "--index", "1", "--port", "0", "--supervised"),
    ]
    assert "PYTHONPATH" not in spec.env


def test_secrets_go_through_stdin_never_the_environment(tmp_path: Path) -> None:
    # Issue 10, item 6: the token and the webhook secret reached every child's environment.
    from app.engine.instance.supervised import read_secrets

    settings = Settings.load(environ={}, cwd=tmp_path, flags={"data_dir": tmp_path})
    launcher = InstanceLauncher(
        settings=settings, provider_url="http://127.0.0.1:1/", webhook_secret="w" * 40
    )
    spec = launcher.spec(index=0, token="t" * 32)
    assert not [v for v in spec.env.values() if "t" * 32 in v or "w" * 40 in v]
    assert spec.env["PAIRDESK_INSTANCE_TOKEN"] == "" and spec.env["PAIRDESK_WEBHOOK_SECRET"] == ""
    assert spec.stdin is not None
    assert read_secrets(io.BytesIO(spec.stdin)) == {
        "instance_token": "t" * 32,
        "webhook_secret": "w" * 40,
    }
    assert set(spec.secrets) == {"t" * 32, "w" * 40}
