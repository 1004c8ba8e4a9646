"""The webhook secret goes to the keyring when there is one, else to a 0600 file."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from app.secret_store import (
    KEYRING_NAME,
    KEYRING_SERVICE,
    SecretStoreError,
    read_keyring_secret,
    save_secret,
    write_private_file,
)
from tests.keyring_fakes import LockedKeyring, MemoryKeyring, NoKeyring


def test_a_usable_keyring_keeps_the_secret_and_no_file_is_written(tmp_path: Path) -> None:
    keyring = MemoryKeyring()
    stored = save_secret("  s3cret \n", config_dir=tmp_path, backend=keyring)
    assert stored.where == "keyring" and stored.path is None
    assert keyring.items[(KEYRING_SERVICE, KEYRING_NAME)] == "s3cret"
    assert read_keyring_secret(keyring) == "s3cret"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("backend", [NoKeyring(), LockedKeyring(), None])
def test_without_a_usable_keyring_the_secret_goes_to_a_file_only_its_owner_reads(
    tmp_path: Path, backend: object
) -> None:
    stored = save_secret("s3cret", config_dir=tmp_path / "cfg", backend=backend)
    assert stored.where == "file" and stored.path == tmp_path / "cfg" / "webhook.secret"
    assert stored.path.read_text() == "s3cret\n"
    assert stat.S_IMODE(stored.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(stored.path.parent.stat().st_mode) == 0o700
    assert stored.note  # says why the keyring was not used
    assert "s3cret" not in stored.description + stored.note


def test_an_empty_secret_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SecretStoreError, match="empty"):
        save_secret("   ", config_dir=tmp_path, backend=MemoryKeyring())


def test_reading_says_what_to_do_when_the_keyring_cannot_answer() -> None:
    with pytest.raises(SecretStoreError, match="no keyring service"):
        read_keyring_secret(NoKeyring())
    with pytest.raises(SecretStoreError, match="unlock the keyring"):
        read_keyring_secret(LockedKeyring())
    with pytest.raises(SecretStoreError, match="holds no pairdesk/webhook_secret"):
        read_keyring_secret(MemoryKeyring())


def test_a_private_file_replaces_the_old_one_whole(tmp_path: Path) -> None:
    path = tmp_path / "webhook.secret"
    path.write_text("old\n")
    path.chmod(0o644)
    write_private_file(path, "new\n")
    assert path.read_text() == "new\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["webhook.secret"]  # no temp file left


def test_an_unwritable_folder_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SecretStoreError, match="cannot write"):
        write_private_file(blocker / "sub" / "webhook.secret", "x")


def test_exclusive_leaves_a_file_already_there_for_the_caller_to_explain(
    tmp_path: Path,
) -> None:
    path = tmp_path / "pairdesk.toml"
    path.write_text("instances = 4\n")
    with pytest.raises(FileExistsError):
        write_private_file(path, "new\n", exclusive=True)
    assert path.read_text() == "instances = 4\n"
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SecretStoreError, match="cannot write"):  # the folder: still this
        write_private_file(blocker / "pairdesk.toml", "x", exclusive=True)
