"""Personal data on disk is owner-only: folders 0700, files 0600, SQLite's -wal/-shm too,
the diagnostics zip, and `doctor` warns about anything wider it finds."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from app.config import Settings
from app.engine.doctor import check_permissions
from app.operator.bundle import write_bundle
from app.permissions import secure_folders, wider_than_private
from app.store import create_engine_for, upgrade


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask():
    """The common default (022) the process would have without pairdesk's entry point."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def _clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAIRDESK_")}
    env.update(HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path / "xdg"))
    return env


def test_the_command_line_creates_owner_only_files_for_itself_and_children(tmp_path) -> None:
    """`pairdesk` under a 022 umask: the database it creates is 0600, its folder 0700."""
    data = tmp_path / "data"
    script = (
        "import os, sys; os.umask(0o022); from app.cli import main; "
        "code = main(sys.argv[1:]); "
        "print(oct(os.umask(0o022)))"  # the umask is restored after main (in-process callers)
    )
    args = [
        "doctor",
        "--skip-launch",
        "--data-dir",
        str(data),
        "--sessions-dir",
        str(tmp_path / "s"),
    ]
    args += ["--database-url", f"sqlite:///{data / 'pairdesk.db'}"]
    out = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_clean_env(tmp_path),
        timeout=120,
    )
    assert out.stdout.strip().endswith("0o22"), out.stdout + out.stderr
    assert mode(data) == 0o700
    assert mode(data / "pairdesk.db") == 0o600
    assert "warn" not in out.stdout, out.stdout


def test_sqlite_wal_and_shm_are_owner_only(tmp_path, loose_umask) -> None:
    path = tmp_path / "data" / "pairdesk.db"
    engine = create_engine_for(f"sqlite:///{path}")
    try:
        upgrade(engine)
        with engine.begin() as connection:  # a write keeps -wal and -shm in use
            connection.execute(text("CREATE TABLE probe (x INTEGER)"))
            wal, shm = path.with_name("pairdesk.db-wal"), path.with_name("pairdesk.db-shm")
            assert wal.exists() and shm.exists()
            assert (mode(path), mode(wal), mode(shm)) == (0o600, 0o600, 0o600)
            assert mode(path.parent) == 0o700
    finally:
        engine.dispose()


def test_the_diagnostics_zip_is_owner_only_even_over_an_older_file(tmp_path, loose_umask) -> None:
    target = tmp_path / "bundle.zip"
    target.write_bytes(b"old")
    os.chmod(target, 0o644)
    settings = Settings.load(environ={}, cwd=tmp_path)
    write_bundle(target, settings=settings, sessions=[])
    assert mode(target) == 0o600


def test_a_folder_left_0755_is_narrowed_at_start(tmp_path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    os.chmod(data, 0o755)
    secure_folders([data, tmp_path / "missing"])
    assert mode(data) == 0o700


async def test_doctor_warns_about_files_others_can_read(tmp_path) -> None:
    data, sessions = tmp_path / "data", tmp_path / "sessions"
    for folder in (data, sessions):
        folder.mkdir(mode=0o700)
        os.chmod(folder, 0o700)
    wal = data / "pairdesk.db-wal"
    wal.write_bytes(b"phones")
    os.chmod(wal, 0o644)
    (sessions / "s1").mkdir()
    os.chmod(sessions / "s1", 0o700)
    settings = Settings.load(
        environ={}, cwd=tmp_path, flags={"data_dir": str(data), "sessions_dir": str(sessions)}
    )
    warned, fine = await check_permissions(settings)
    assert warned.warning and str(wal) in warned.detail and "0644" in warned.detail
    assert warned.advice == f"run: chmod -R go-rwx {data}"
    assert not fine.warning and "owner only" in fine.detail
    assert wider_than_private(sessions) == []
