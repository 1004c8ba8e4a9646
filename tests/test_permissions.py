"""Personal data on disk is owner-only: folders 0700, files 0600, SQLite's -wal/-shm too,
the diagnostics zip, and `doctor` warns about anything wider it finds; `write_private`
writes a whole 0600 file atomically, and with `exclusive` never over one already there."""

from __future__ import annotations

import errno
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
from app.permissions import secure_folders, wider_than_private, write_private
from app.store import create_engine_for, upgrade


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask():
    """The common default (022) the process would have without pairdesk's entry point."""
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.fixture
def open_umask():
    """No umask at all: every mode asked for is the mode given."""
    old = os.umask(0)
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


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("exclusive", [False, True])
def test_a_private_file_is_0600_even_with_no_umask(tmp_path, open_umask, exclusive) -> None:
    path = tmp_path / "secret"
    write_private(path, b"phones\n", exclusive=exclusive)
    assert path.read_bytes() == b"phones\n"
    assert mode(path) == 0o600
    assert _names(tmp_path) == ["secret"], "no temp file left"


def test_a_replaced_file_keeps_no_wider_mode(tmp_path, open_umask) -> None:
    path = tmp_path / "results.csv"
    path.write_bytes(b"old, much longer than the new bytes\n")
    os.chmod(path, 0o666)
    write_private(path, b"new\n")
    assert path.read_bytes() == b"new\n"
    assert mode(path) == 0o600
    assert _names(tmp_path) == ["results.csv"]


def test_exclusive_refuses_an_existing_file_and_leaves_it_byte_for_byte(tmp_path) -> None:
    path = tmp_path / "results.1.csv"
    path.write_bytes(b"an earlier copy\r\n\x00")
    os.chmod(path, 0o640)
    with pytest.raises(FileExistsError):
        write_private(path, b"new", exclusive=True)
    assert path.read_bytes() == b"an earlier copy\r\n\x00"
    assert mode(path) == 0o640
    assert _names(tmp_path) == ["results.1.csv"]


def test_exclusive_refuses_a_dangling_symlink_and_writes_nothing_through_it(tmp_path) -> None:
    link, target = tmp_path / "copy.csv", tmp_path / "elsewhere"
    link.symlink_to(target)
    with pytest.raises(FileExistsError):
        write_private(link, b"new", exclusive=True)
    assert link.is_symlink() and not target.exists()
    assert _names(tmp_path) == ["copy.csv"]


def test_exclusive_never_writes_over_a_file_that_appears_while_writing(
    tmp_path, monkeypatch
) -> None:
    """Checked when the file is put in place, not before: another writer that gets
    there while this one is writing keeps its file."""
    path = tmp_path / "results.1.csv"
    fsync = os.fsync

    def racing_fsync(fd: int) -> None:
        path.write_bytes(b"the other writer's")
        fsync(fd)

    monkeypatch.setattr(os, "fsync", racing_fsync)
    with pytest.raises(FileExistsError):
        write_private(path, b"new", exclusive=True)
    assert path.read_bytes() == b"the other writer's"
    assert _names(tmp_path) == ["results.1.csv"]


@pytest.mark.parametrize(
    ("exclusive", "failing"),
    [(False, "fsync"), (False, "replace"), (True, "fsync"), (True, "link")],
)
def test_a_failed_write_leaves_the_old_file_and_no_temp_file(
    tmp_path, monkeypatch, exclusive, failing
) -> None:
    path = tmp_path / "webhook.secret"
    if not exclusive:  # an exclusive write only ever makes a new file
        path.write_bytes(b"old\n")

    def full_disk(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, failing, full_disk)
    with pytest.raises(OSError, match="No space left"):
        write_private(path, b"new\n", exclusive=exclusive)
    if exclusive:
        assert _names(tmp_path) == [], "neither the file nor a temp file"
    else:
        assert path.read_bytes() == b"old\n"
        assert _names(tmp_path) == ["webhook.secret"], "no temp file left"


def test_exclusive_works_where_the_filesystem_has_no_hard_links(tmp_path, monkeypatch) -> None:
    """FAT and exFAT (a sheet on a USB stick) refuse `link` with EPERM."""

    def no_hard_links(*args: object) -> None:
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_hard_links)
    path = tmp_path / "results.1.csv"
    write_private(path, b"copy\n", exclusive=True)
    assert path.read_bytes() == b"copy\n" and mode(path) == 0o600
    with pytest.raises(FileExistsError):
        write_private(path, b"other\n", exclusive=True)
    assert path.read_bytes() == b"copy\n"
    assert _names(tmp_path) == ["results.1.csv"]
