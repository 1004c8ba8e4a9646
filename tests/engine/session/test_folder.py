"""The session folder on disk: atomic snapshots, fallback, permissions, the run
lock and adoption of whatsapp-web.js LocalAuth folders (no browser needed)."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from app.engine.errors import SessionLocked, StateCorrupt
from app.engine.session.folder import SessionFolder, adopt_localauth


def state(n: int) -> dict[str, object]:
    return {"cookies": [], "origins": [{"origin": "http://x", "localStorage": [], "n": n}]}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_layout_permissions_and_previous_snapshot(tmp_path: Path) -> None:
    folder = SessionFolder(tmp_path, 12, "webjs_12_1700000000_abcdefgh")
    assert folder.path == tmp_path / "workspace_12" / "webjs_12_1700000000_abcdefgh"
    assert folder.save_state(state(1))
    assert folder.save_state(state(2))
    assert not folder.save_state(state(2)), "an unchanged snapshot is not written again"
    folder.update_meta(phone="628123")
    assert mode(folder.path) == 0o700 and mode(folder.path.parent) == 0o700
    for name in ("state.json", "state.prev.json", "meta.json"):
        assert mode(folder.path / name) == 0o600
    prev = folder.vault.open(
        (folder.path / "state.prev.json").read_bytes(), session_id=folder.session_id
    )
    assert json.loads(prev)["origins"][0]["n"] == 1
    loaded = folder.load_state()
    assert loaded is not None and not loaded.fallback and loaded.state["origins"][0]["n"] == 2
    assert folder.read_meta() == {"phone": "628123"}
    assert not list(folder.path.glob("*.tmp")), "no temp files are left behind"


def test_corrupt_state_falls_back_then_raises(tmp_path: Path) -> None:
    folder = SessionFolder(tmp_path, 1, "s")
    assert folder.load_state() is None
    folder.save_state(state(1))
    folder.save_state(state(2))
    (folder.path / "state.json").write_text('{"cookies": [], "orig')  # torn write
    loaded = folder.load_state()
    assert loaded is not None and loaded.fallback and loaded.state["origins"][0]["n"] == 1
    # A corrupt current snapshot never becomes the fallback.
    fresh = SessionFolder(tmp_path, 1, "s")
    fresh.save_state(state(3))
    prev = folder.vault.open(
        (folder.path / "state.prev.json").read_bytes(), session_id=folder.session_id
    )
    assert json.loads(prev)["origins"][0]["n"] == 1
    (folder.path / "state.json").write_text("[]")
    (folder.path / "state.prev.json").write_bytes(b"\x00garbage")
    with pytest.raises(StateCorrupt, match="log the session out"):
        folder.load_state()


def test_delete_state_keeps_meta(tmp_path: Path) -> None:
    folder = SessionFolder(tmp_path, 1, "s")
    folder.save_state(state(1))
    folder.save_state(state(2))
    folder.ensure_profile()
    folder.update_meta(linked=True)
    folder.delete_state()
    assert not folder.has_state() and not folder.profile_dir.exists()
    assert folder.read_meta() == {"linked": True}


@pytest.mark.parametrize("bad", ["", "..", "a/b", "."])
def test_session_ids_that_are_not_folder_names_are_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError):
        SessionFolder(tmp_path, 1, bad)


def test_lock_refuses_a_second_owner_in_this_and_another_process(tmp_path: Path) -> None:
    first = SessionFolder(tmp_path, 1, "s")
    first.lock()
    with pytest.raises(SessionLocked, match="already open"):
        SessionFolder(tmp_path, 1, "s").lock()
    probe = (
        "import sys; from pathlib import Path\n"
        "from app.engine.session.folder import SessionFolder\n"
        "try:\n    SessionFolder(Path(sys.argv[1]), 1, 's').lock()\n"
        "except Exception as e:\n    print(type(e).__name__)\nelse:\n    print('locked')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, str(tmp_path)], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "SessionLocked"
    first.unlock()
    second = SessionFolder(tmp_path, 1, "s")
    second.lock()
    second.unlock()


def test_adopt_localauth_folder(tmp_path: Path) -> None:
    auth = tmp_path / ".wwebjs_auth"
    profile = auth / "session-client1"
    (profile / "Default" / "IndexedDB").mkdir(parents=True)
    (profile / "Default" / "Preferences").write_text("{}")
    (profile / "Local State").write_text("{}")
    folder = adopt_localauth(
        auth, sessions_dir=tmp_path / "sessions", workspace_id=3, session_id="s"
    )
    assert (folder.profile_dir / "Default" / "Preferences").is_file()
    assert mode(folder.profile_dir) == 0o700
    assert mode(folder.profile_dir / "Local State") == 0o600
    assert folder.read_meta()["linked"] is True
    assert profile.is_dir(), "copied, not moved, unless asked"
    with pytest.raises(FileExistsError):
        adopt_localauth(profile, sessions_dir=tmp_path / "sessions", workspace_id=3, session_id="s")
    (profile / "SingletonLock").symlink_to("host-123")
    with pytest.raises(SessionLocked, match="in use"):
        adopt_localauth(profile, sessions_dir=tmp_path / "sessions", workspace_id=3, session_id="t")
    with pytest.raises(ValueError, match="LocalAuth"):
        adopt_localauth(tmp_path / "nothing", sessions_dir=tmp_path, workspace_id=3, session_id="u")
