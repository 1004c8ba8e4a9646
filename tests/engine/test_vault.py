"""Issue 10, item 8: saved logins encrypted at rest, the key in the keyring or a
0600 file, clear snapshots sealed on first start. Fake keyrings only."""

from __future__ import annotations

import asyncio
import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.config import Settings
from app.engine import vault as vault_module
from app.engine.doctor import check_snapshot_key
from app.engine.session.folder import SessionFolder, adopt_localauth, seal_clear_snapshots
from app.engine.vault import Vault, VaultError, is_sealed, use_vault
from tests.keyring_fakes import LockedKeyring, MemoryKeyring, NoKeyring

SECRET_COOKIE = "login-cookie-value-that-must-not-be-readable"
STATE = {
    "cookies": [{"name": "wa", "value": SECRET_COOKIE, "domain": "x", "path": "/"}],
    "origins": [{"origin": "https://web.example", "localStorage": []}],
}


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "sessions"
    yield folder
    use_vault(folder, None)


def test_snapshots_are_sealed_and_open_again(sessions: Path) -> None:
    keyring = MemoryKeyring()
    use_vault(sessions, Vault(sessions, backend=keyring))
    folder = SessionFolder(sessions, 1, "s1")
    folder.save_state(STATE)
    blob = (folder.path / "state.json").read_bytes()
    assert is_sealed(blob) and SECRET_COOKIE.encode() not in blob
    assert stat.S_IMODE((folder.path / "state.json").stat().st_mode) == 0o600
    # Another process (a new vault on the same folder and keyring) opens it.
    use_vault(sessions, Vault(sessions, backend=keyring))
    loaded = SessionFolder(sessions, 1, "s1").load_state()
    assert loaded is not None and loaded.state == STATE
    meta = json.loads((sessions / ".vault.json").read_text())
    assert meta["where"] == "keyring" and not (sessions / ".session.key").exists()
    assert list(keyring.items) == [("pairdesk", f"session-key-{meta['key_id']}")]
    assert "OS keyring (memory keyring" in Vault(sessions, backend=keyring).describe()


@pytest.mark.parametrize("backend", [NoKeyring(), LockedKeyring()], ids=["none", "locked"])
def test_without_a_usable_keyring_the_key_is_a_0600_file(sessions: Path, backend: object) -> None:
    vault = Vault(sessions, backend=backend)
    use_vault(sessions, vault)
    SessionFolder(sessions, 1, "s1").save_state(STATE)
    key = sessions / ".session.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert json.loads((sessions / ".vault.json").read_text())["where"] == "file"
    assert "in the file" in vault.describe() and "disk encryption" in vault.describe()


def test_a_snapshot_moved_to_another_session_or_key_does_not_open(sessions: Path) -> None:
    use_vault(sessions, Vault(sessions, backend=NoKeyring()))
    SessionFolder(sessions, 1, "a").save_state(STATE)
    other = SessionFolder(sessions, 1, "b")
    other.ensure()
    (other.path / "state.json").write_bytes((sessions / "workspace_1/a/state.json").read_bytes())
    with pytest.raises(Exception, match="damaged"):
        other.load_state()  # StateCorrupt: the session id is bound into the seal


def test_a_lost_keyring_key_is_a_clear_error(sessions: Path) -> None:
    keyring = MemoryKeyring()
    Vault(sessions, backend=keyring).seal(b"x", session_id="s")
    keyring.items.clear()
    with pytest.raises(VaultError, match="put the key back"):
        Vault(sessions, backend=keyring).seal(b"x", session_id="s")


def test_clear_snapshots_are_sealed_on_first_start(sessions: Path) -> None:
    use_vault(sessions, Vault(sessions, backend=MemoryKeyring()))
    old = sessions / "workspace_3" / "legacy"
    old.mkdir(parents=True)
    (old / "state.json").write_text(json.dumps(STATE))
    (old / "state.prev.json").write_text(json.dumps(STATE))
    (old / "meta.json").write_text("{}")
    busy = SessionFolder(sessions, 3, "busy")
    busy.ensure()
    (busy.path / "state.json").write_text(json.dumps(STATE))
    busy.lock()  # a running session's folder is not touched
    try:
        assert seal_clear_snapshots(sessions) == 2
        assert seal_clear_snapshots(sessions) == 0  # idempotent
    finally:
        busy.unlock()
    for name in ("state.json", "state.prev.json"):
        assert is_sealed((old / name).read_bytes())
    loaded = SessionFolder(sessions, 3, "legacy").load_state()
    assert loaded is not None and loaded.state == STATE
    # A clear snapshot still loads (read before the migration ran), then is sealed on save.
    assert not is_sealed((busy.path / "state.json").read_bytes())
    assert SessionFolder(sessions, 3, "busy").load_state() is not None


def test_localauth_adoption_still_works(sessions: Path, tmp_path: Path) -> None:
    use_vault(sessions, Vault(sessions, backend=MemoryKeyring()))
    source = tmp_path / ".wwebjs_auth" / "session-client1"
    (source / "Default").mkdir(parents=True)
    (source / "Default" / "Cookies").write_bytes(b"sqlite")
    folder = adopt_localauth(source, sessions_dir=sessions, workspace_id=1, session_id="s1")
    assert (folder.profile_dir / "Default" / "Cookies").read_bytes() == b"sqlite"
    folder.save_state(STATE)  # a later snapshot of the adopted session is sealed
    assert is_sealed((folder.path / "state.json").read_bytes())


def test_doctor_says_where_the_key_is(sessions: Path, tmp_path: Path) -> None:
    settings = Settings(sessions_dir=sessions, data_dir=tmp_path / "data")
    use_vault(sessions, Vault(sessions, backend=NoKeyring()))
    [before] = asyncio.run(check_snapshot_key(settings))
    assert before.ok and "will go into the file" in before.detail
    SessionFolder(sessions, 1, "s1").save_state(STATE)
    [after] = asyncio.run(check_snapshot_key(settings))
    assert after.ok and "key is in the file" in after.detail and after.advice
    (sessions / ".session.key").unlink()
    use_vault(sessions, Vault(sessions, backend=NoKeyring()))
    [lost] = asyncio.run(check_snapshot_key(settings))
    assert not lost.ok and "cannot be read" in lost.detail


def test_the_module_never_uses_the_machines_keyring_in_tests() -> None:
    # conftest.py selects keyring's fail backend for the whole run.
    assert vault_module._keyring_name(vault_module._default_backend()) == ""
