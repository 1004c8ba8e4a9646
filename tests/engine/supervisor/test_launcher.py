"""The instance command line the supervisor builds."""

from __future__ import annotations

import os
from pathlib import Path

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
    assert spec.argv[-6:] == ["app", "instance", "--index", "3", "--port", "0"]
    assert spec.env["PAIRDESK_PROVIDER_URL"] == "http://127.0.0.1:1/"
    assert spec.env["PAIRDESK_SESSIONS_DIR"] == str((tmp_path / "s").resolve())
