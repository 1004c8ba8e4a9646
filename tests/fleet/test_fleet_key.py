"""The fleet snapshot key: keygen, the 0600 rule, and members that have no key."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main
from app.engine.vault import SealedUnreadable
from app.fleet.fleet_key import FleetKeyError, read_fleet_key, write_fleet_key


def test_keygen_writes_a_fresh_0600_key_and_never_overwrites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "fleet.key"
    old = os.umask(0o022)
    try:
        assert main(["fleet", "keygen", str(path)]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = path.read_bytes()
    cipher = read_fleet_key(str(path))
    assert cipher.open(cipher.seal(b"x", session_id="s"), session_id="s") == b"x"
    assert main(["fleet", "keygen", str(path)]) == 2
    assert "not overwritten" in capsys.readouterr().err
    assert path.read_bytes() == first
    write_fleet_key(tmp_path / "other.key")
    other = read_fleet_key(str(tmp_path / "other.key"))
    with pytest.raises(SealedUnreadable):
        other.open(cipher.seal(b"x", session_id="s"), session_id="s")


def test_a_keygen_that_fails_midway_leaves_no_partial_key_and_can_be_run_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk while the key goes to disk: one clear error and no file at all, not
    a stump the next keygen would refuse to replace as if it were the fleet's key."""
    path = tmp_path / "fleet.key"
    fsync = os.fsync

    def full_disk(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(FleetKeyError, match="cannot create .*No space left"):
        write_fleet_key(path)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(os, "fsync", fsync)
    write_fleet_key(path)
    read_fleet_key(str(path))


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660])
def test_a_key_file_group_or_others_can_read_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "fleet.key"
    write_fleet_key(path)
    path.chmod(mode)
    with pytest.raises(FleetKeyError) as info:
        read_fleet_key(str(path))
    message = str(info.value)
    assert "\n" not in message and "chmod 600" in message and str(path) in message


def test_a_missing_or_bad_key_names_the_setting_and_keygen(tmp_path: Path) -> None:
    for setting in ("", str(tmp_path / "absent.key")):
        with pytest.raises(FleetKeyError, match="fleet_key_file") as info:
            read_fleet_key(setting)
        assert "pairdesk fleet keygen" in str(info.value)
    bad = tmp_path / "bad.key"
    bad.write_text("not a key\n")
    bad.chmod(0o600)
    with pytest.raises(FleetKeyError, match="does not hold a fleet key"):
        read_fleet_key(str(bad))


def test_a_member_without_a_key_refuses_to_start_with_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAIRDESK_")}
    # Never reached: the key is checked before the database is.
    env["PAIRDESK_FLEET_DATABASE_URL"] = "postgresql://nobody@127.0.0.1:1/none"
    env["XDG_CONFIG_HOME"] = str(tmp_path)
    argv = [
        sys.executable, "-m", "app", "instance", "--name", "m1",
        "--provider-url", "http://127.0.0.1:1/", "--central-url", "",
        "--sessions-dir", str(tmp_path / "s"), "--data-dir", str(tmp_path / "d"),
    ]  # fmt: skip
    done = subprocess.run(
        argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert "fleet_key_file" in lines[0] and "pairdesk fleet keygen" in lines[0]
