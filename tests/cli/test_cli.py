"""The `pairdesk` command line: dispatch, unbuilt commands, and `doctor`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main
from app.config import Settings
from app.engine.doctor import check_central, check_database, check_folders, run_checks


def test_bad_setting_is_one_line_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PAIRDESK_INSTANCES", "many")
    assert main(["doctor", "--skip-launch"]) == 2
    err = capsys.readouterr().err
    assert "PAIRDESK_INSTANCES" in err and "Traceback" not in err


def test_version_via_module() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "app", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("pairdesk ")


async def test_doctor_passes_on_this_machine(tmp_path: Path) -> None:
    settings = Settings.load(
        environ={"HOME": str(tmp_path)},
        cwd=tmp_path,
        flags={"data_dir": str(tmp_path / "data"), "sessions_dir": str(tmp_path / "s")},
    )
    results = await run_checks(settings, launch_browser=False)
    assert all(r.ok for r in results), [r for r in results if not r.ok]


async def test_doctor_reports_unwritable_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    settings = Settings().with_overrides(data_dir=str(blocker / "data"), sessions_dir=str(tmp_path))
    results = await check_folders(settings)
    assert not results[0].ok and "not writable" in results[0].detail


async def test_doctor_reports_unreachable_database() -> None:
    settings = Settings().with_overrides(database_url="postgresql://nobody@127.0.0.1:1/none")
    [result] = await check_database(settings)
    assert not result.ok and "cannot connect" in result.detail
    assert result.advice


async def test_doctor_reports_unreachable_central_api_without_secret() -> None:
    secret = "doctor-secret-value"
    settings = Settings().with_overrides(central_url="http://127.0.0.1:1", webhook_secret=secret)
    results = await check_central(settings)
    assert not results[0].ok and "unreachable" in results[0].detail
    assert all(secret not in r.detail + r.advice for r in results)


def test_doctor_exit_status_on_failure(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PAIRDESK_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    assert main(["doctor", "--skip-launch"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "database" in out
