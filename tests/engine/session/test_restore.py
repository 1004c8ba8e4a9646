"""Saved logins: snapshot -> reopen without a QR, corrupt snapshots, the folder
lock, remote and operator logout, and conflict without a fight."""

from __future__ import annotations

import asyncio
import shutil
import stat
from pathlib import Path

import pytest

from app.domain.events import QrIssued, SessionError, SessionReady, SessionStateChanged
from app.domain.states import Reason, SessionState
from app.engine.browser.storage_restore import outcome as restore_outcome
from app.engine.errors import SessionLocked
from app.engine.vault import is_sealed, use_vault, vault_for
from tests.engine.session_support import world

pytestmark = pytest.mark.e2e
S = SessionState
PHONE = "6281234567890"


def folder(tmp_path: Path, session_id: str, ws: int = 1) -> Path:
    return tmp_path / "sessions" / f"workspace_{ws}" / session_id


async def test_snapshot_then_reopen_connects_without_qr(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        host = await w.host()
        await w.connect(host, "s1", PHONE)
        state = folder(tmp_path, "s1") / "state.json"
        assert state.is_file() and stat.S_IMODE(state.stat().st_mode) == 0o600
        sealed = state.read_bytes()
        assert is_sealed(sealed) and b"indexedDB" not in sealed, "encrypted at rest"
        clear = vault_for(tmp_path / "sessions").open(sealed, session_id="s1")
        assert b"indexedDB" in clear, "IndexedDB (the login keys) is in the snapshot"
        await host.stop_session("s1")
        assert w.recorder.states("s1")[-1] is S.STOPPED
        mark = len(w.recorder.events)
        await host.start_session(session_id="s1", workspace_id=1)
        ready = await w.recorder.wait_for(SessionReady, lambda e: e.session_id == "s1", start=mark)
        assert ready.restored and ready.phone_number == PHONE
        assert not [e for e in w.recorder.events[mark:] if isinstance(e, QrIssued)]
        assert w.recorder.states("s1")[-2:] == [S.STARTING, S.CONNECTED]
        slot = host._sessions["s1"].slot
        assert slot is not None
        assert await restore_outcome(slot.page.page) == "ok", "the page wrote the login itself"
        stats = await w.phone.stats()
        assert stats["conflicts_total"] == 0 and stats["restores"] >= 1


async def test_corrupt_state_uses_previous_and_both_corrupt_fail_alone(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        host = await w.host()
        await w.connect(host, "a", PHONE)
        await w.connect(host, "b", "6289999999999")
        await host.stop_session("a")
        path = folder(tmp_path, "a")
        # state.prev.json only exists after a second snapshot: make it from the first.
        shutil.copy(path / "state.json", path / "state.prev.json")
        (path / "state.json").write_text('{"cookies": [')
        mark = len(w.recorder.events)
        await host.start_session(session_id="a", workspace_id=1)
        ready = await w.recorder.wait_for(SessionReady, lambda e: e.session_id == "a", start=mark)
        assert ready.restored
        starting = [
            e for e in w.recorder.of(SessionStateChanged, "a")[-2:] if e.state is S.STARTING
        ]
        assert "state.prev.json" in starting[0].detail
        await host.stop_session("a")
        (path / "state.json").write_text("not json")
        (path / "state.prev.json").write_text("[]")
        mark = len(w.recorder.events)
        info = await host.start_session(session_id="a", workspace_id=1)
        assert info.state is S.FAILED and info.reason is Reason.STATE_CORRUPT
        error = await w.recorder.wait_for(SessionError, lambda e: e.session_id == "a", start=mark)
        assert error.error == "state_corrupt" and "scan a new QR" in error.message
        # The other session never noticed.
        assert host.session("b").state is S.CONNECTED
        assert [
            e
            for e in w.recorder.events[mark:]
            if getattr(e, "session_id", "") == "b" and isinstance(e, SessionStateChanged)
        ] == []


async def test_file_lock_prevents_double_open(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        one = await w.host()
        two = await w.host()
        await one.start_session(session_id="s1", workspace_id=1)
        with pytest.raises(SessionLocked, match="already open"):
            await one.start_session(session_id="s1", workspace_id=1)
        with pytest.raises(SessionLocked, match="already open"):
            await two.start_session(session_id="s1", workspace_id=1)
        assert two.sessions() == []
        await one.stop_session("s1")
        await two.start_session(session_id="s1", workspace_id=1)
        assert [s.session_id for s in two.sessions()] == ["s1"]


async def test_remote_logout_deletes_the_snapshot(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        host = await w.host()
        await w.connect(host, "s1", PHONE)
        assert (folder(tmp_path, "s1") / "state.json").is_file()
        await w.phone.logout(PHONE)
        out = await w.recorder.wait_state("s1", S.LOGGED_OUT)
        assert out.reason is Reason.LOGOUT and out.previous is S.CONNECTED
        assert not (folder(tmp_path, "s1") / "state.json").exists()
        assert not (folder(tmp_path, "s1") / "state.prev.json").exists()
        # Opening it again needs a new QR.
        mark = len(w.recorder.events)
        await host.start_session(session_id="s1", workspace_id=1)
        await w.recorder.wait_for(QrIssued, lambda e: e.session_id == "s1", start=mark)


async def test_operator_logout(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        host = await w.host()
        await w.connect(host, "s1", PHONE)
        await host.logout_session("s1")
        assert host.session("s1").state is S.LOGGED_OUT
        assert not (folder(tmp_path, "s1") / "state.json").exists()
        stats = await w.phone.stats()
        assert stats["logouts"] >= 1 and stats["live_connections"].get(PHONE, 0) == 0


async def test_conflict_is_reported_and_not_fought(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        w.conflicts_expected = True
        host = await w.host()
        await w.connect(host, "s1", PHONE)
        await host.stop_session("s1")
        # Another machine runs the same login (its own copy of the folder).
        other_dir = tmp_path / "other"
        shutil.copytree(tmp_path / "sessions", other_dir / "sessions")
        mark = len(w.recorder.events)
        await host.start_session(session_id="s1", workspace_id=1)
        await w.recorder.wait_for(SessionReady, lambda e: e.session_id == "s1", start=mark)
        other = await w.host(sessions_dir=other_dir / "sessions")
        await other.start_session(session_id="s1", workspace_id=1)
        lost = await w.recorder.wait_for(
            SessionStateChanged,
            lambda e: (
                e.session_id == "s1"
                and e.instance_id == host.instance_id
                and e.state is S.DISCONNECTED
            ),
            start=mark,
        )
        assert lost.reason is Reason.CONFLICT
        await w.recorder.wait_for(
            SessionReady, lambda e: e.instance_id == other.instance_id, start=mark
        )
        await asyncio.sleep(3)  # give a (wrong) automatic take-over time to happen
        assert host.session("s1").state is S.DISCONNECTED
        assert host.session("s1").reason is Reason.CONFLICT
        assert other.session("s1").state is S.CONNECTED
        assert (await w.phone.stats())["conflicts_total"] == 1, "one conflict, no ping-pong"
        # Taking over is the operator's explicit act: then the other side is in conflict.
        mark = len(w.recorder.events)
        await host.restart_session("s1")
        await w.recorder.wait_for(
            SessionReady, lambda e: e.instance_id == host.instance_id, start=mark
        )
        other_lost = await w.recorder.wait_for(
            SessionStateChanged,
            lambda e: e.instance_id == other.instance_id and e.state is S.DISCONNECTED,
            start=mark,
        )
        assert other_lost.reason is Reason.CONFLICT


async def test_staggered_restore_of_many_sessions_after_a_restart(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        host = await w.host()
        ids = [f"s{i}" for i in range(4)]
        for i, sid in enumerate(ids):
            await w.connect(host, sid, f"62811000000{i:02d}")
        await host.aclose()
        assert {w.recorder.states(sid)[-1] for sid in ids} == {S.STOPPED}
        mark = len(w.recorder.events)
        again = await w.host()
        started = asyncio.get_running_loop().time()
        infos = await again.restore_sessions([(sid, 1, sid) for sid in ids], stagger=0.05)
        assert not [i for i in infos if isinstance(i, BaseException)]
        for sid in ids:
            ready = await w.recorder.wait_for(
                SessionReady, lambda e, s=sid: e.session_id == s, start=mark
            )
            assert ready.restored
        took = asyncio.get_running_loop().time() - started
        print(f"\nrestored {len(ids)} sessions in {took:.2f} s")
        assert not [e for e in w.recorder.events[mark:] if isinstance(e, QrIssued)]
        assert (await w.phone.stats())["conflicts_total"] == 0


async def test_dropped_socket_reconnects_by_itself(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        host = await w.host()
        await w.connect(host, "s1", PHONE)
        mark = len(w.recorder.events)
        await w.phone.set_faults(drop_sockets=True)
        lost = await w.recorder.wait_state("s1", S.DISCONNECTED, start=mark)
        assert lost.reason is Reason.TIMEOUT
        back = await w.recorder.wait_state("s1", S.CONNECTED, start=mark)
        assert back.previous is S.DISCONNECTED
        assert host.session("s1").restarts == 0, "the page reconnected; nothing was reopened"


async def test_a_page_that_cannot_reconnect_is_reopened(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        host = await w.host(heartbeat_interval=0.3, reconnect_grace=2.0)
        await w.connect(host, "s1", PHONE)
        slot = host._sessions["s1"].slot
        assert slot is not None
        mark = len(w.recorder.events)
        await slot.context.set_offline(True)  # its socket cannot come back by itself
        await w.phone.set_faults(drop_sockets=True)
        lost = await w.recorder.wait_state("s1", S.DISCONNECTED, start=mark)
        assert lost.reason is Reason.TIMEOUT
        ready = await w.recorder.wait_for(SessionReady, lambda e: e.session_id == "s1", start=mark)
        assert ready.restored and host.session("s1").restarts == 1
        assert (await w.phone.stats())["conflicts_total"] == 0


@pytest.mark.parametrize("flavour", ["dom", "pixels"])
async def test_fallback_flavours_see_logout_and_conflict(tmp_path: Path, flavour: str) -> None:
    async with world(tmp_path, flavour=flavour) as w:
        w.conflicts_expected = True
        # The page speaks Spanish: the conflict is read from its state, not from "Use here".
        await w.phone.set_faults(language="es")
        host = await w.host()
        await w.connect(host, "s1", PHONE)
        other_dir = tmp_path / "other"
        # Copied while the session runs: skip a meta.json being rewritten right now.
        shutil.copytree(
            tmp_path / "sessions", other_dir / "sessions", ignore=shutil.ignore_patterns("*.tmp")
        )
        other = await w.host(sessions_dir=other_dir / "sessions")
        mark = len(w.recorder.events)
        await other.start_session(session_id="s1", workspace_id=1)
        lost = await w.recorder.wait_for(
            SessionStateChanged,
            lambda e: e.instance_id == host.instance_id and e.state is S.DISCONNECTED,
            start=mark,
        )
        assert lost.reason is Reason.CONFLICT
        await w.recorder.wait_for(
            SessionReady, lambda e: e.instance_id == other.instance_id, start=mark
        )
        await w.phone.logout(PHONE)
        out = await w.recorder.wait_for(
            SessionStateChanged,
            lambda e: e.instance_id == other.instance_id and e.state is S.LOGGED_OUT,
            start=mark,
        )
        assert out.reason is Reason.LOGOUT
        assert not (other_dir / "sessions" / "workspace_1" / "s1" / "state.json").exists()


async def test_a_lost_snapshot_key_fails_the_session_with_what_to_do(tmp_path: Path) -> None:
    # Issue 10, item 8: encrypted logins need their key; without it the session says so.
    async with world(tmp_path) as w:
        host = await w.host()
        await w.connect(host, "s1", PHONE)
        await host.stop_session("s1")
        (tmp_path / "sessions" / ".session.key").unlink()  # the fail keyring: a key file
        use_vault(tmp_path / "sessions", None)  # a new process would read the key again
        try:
            info = await host.start_session(session_id="s1", workspace_id=1)
        finally:
            use_vault(tmp_path / "sessions", None)
        assert info.state is S.FAILED and info.reason is Reason.STATE_CORRUPT
        error = w.recorder.of(SessionError, "s1")[-1]
        assert "put the backed-up key file back" in error.message


async def test_a_saved_login_that_does_not_reach_the_page_is_reopened_not_shown_as_a_qr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with world(tmp_path) as w:
        host = await w.host()
        await w.connect(host, "s1", PHONE)
        await host.stop_session("s1")
        real_open = host.open_slot
        dropped: list[bool] = []

        async def first_open_loses_the_login(folder, state, sink, *, proxy=None):  # type: ignore[no-untyped-def]
            if state is not None and not dropped:
                dropped.append(True)  # as under heavy load: the page finds no keys
                state = None
            return await real_open(folder, state, sink, proxy=proxy)

        monkeypatch.setattr(host, "open_slot", first_open_loses_the_login)
        mark = len(w.recorder.events)
        await host.start_session(session_id="s1", workspace_id=1)
        ready = await w.recorder.wait_for(SessionReady, lambda e: e.session_id == "s1", start=mark)
        assert dropped and ready.restored and ready.phone_number == PHONE
        assert not [e for e in w.recorder.events[mark:] if isinstance(e, QrIssued)]
        reopened = [
            e
            for e in w.recorder.events[mark:]
            if isinstance(e, SessionStateChanged) and e.state is S.DISCONNECTED
        ]
        assert reopened and "did not reach the page" in reopened[0].detail
