"""A member's leases lapse with no new owner yet: consoles and `pairdesk fleet status`
say `disconnected` with the reason, not the last stored "connected"; once another
member claims the sessions, the state they live in shows again.

A database of the test's own; no member process: leases are claimed and aged
directly (the database's clock decides, so an expiry is moved into the past).
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from app.cli import main
from app.config import Settings
from app.domain.events import EngineEvent, SessionStateChanged
from app.domain.states import Reason, SessionState
from app.engine.control import fleet_engine as console_module
from app.engine.control.fleet_engine import FleetEngine
from app.fleet.leases import LeaseStore
from app.fleet.status import read_status
from app.store import accounts, session_factory
from tests.fleet.conftest import GRACE, TTL, add_accounts, age_leases

pytestmark = pytest.mark.postgres

NO_API = "http://127.0.0.1:9/"  # members here have no API: only the database speaks


def _connect(engine: Engine, owner: str, sids: list[str]) -> None:
    """What `owner` writes once it runs the sessions: assigned to it, connected."""
    now = datetime.now(UTC)
    with session_factory(engine).begin() as session:
        for sid in sids:
            accounts.assign_instance(session, sid, owner)
            for state in (SessionState.STARTING, SessionState.CONNECTED):
                accounts.record_transition(session, sid, state, at=now)


def _fleet(leases: LeaseStore, engine: Engine, count: int) -> list[str]:
    """`count` sessions connected on m1; m2 alive, with room."""
    sids = add_accounts(engine, count)
    leases.register("m1", advertise_url=NO_API, capacity=10, pid=1)
    leases.register("m2", advertise_url=NO_API, capacity=10, pid=2)
    age_leases(engine, 60)  # claimable by anyone, rendezvous preference aside
    assert len(leases.claim("m1", capacity=10, batch=10)) == count
    _connect(engine, "m1", sids)
    return sids


def _lose(leases: LeaseStore, engine: Engine, name: str) -> None:
    """`name` stops renewing: its leases expire, its heartbeat goes stale."""
    age_leases(engine, TTL + 0.5, [sid for sid, owner, _, _ in leases.leases(name)])
    leases.unregister(name)


def _status(capsys: pytest.CaptureFixture[str], url: str) -> dict[str, dict]:  # type: ignore[type-arg]
    assert main(["fleet", "--fleet", url, "status", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    return {"members": {m["name"]: m for m in data["members"]}} | {
        "sessions": {s["session_id"]: s for s in data["sessions"]}
    }


def test_fleet_status_says_disconnected_while_a_lapsed_session_waits_for_a_member(
    fleet_url: str, fleet_engine: Engine, leases: LeaseStore, capsys: pytest.CaptureFixture[str]
) -> None:
    sids = _fleet(leases, fleet_engine, 3)
    before = _status(capsys, fleet_url)
    assert all(s["state"] == "connected" for s in before["sessions"].values())
    assert all(s["lease"]["health"] == "held" for s in before["sessions"].values())
    m1 = before["members"]["m1"]["leases"]
    assert (m1["held"], m1["expired"]) == (3, 0) and m1["oldest_renewal_seconds"] is not None

    _lose(leases, fleet_engine, "m1")
    lapsed = _status(capsys, fleet_url)
    for sid in sids:
        row = lapsed["sessions"][sid]
        assert (row["state"], row["reason"], row["stored_state"]) == (
            "disconnected",
            "awaiting_member",
            "connected",
        )
        assert row["owner"] is None and row["lease_live"] is False
        assert row["lease"]["health"] == "expired" and row["lease"]["owner"] == "m1"
        assert row["lease"]["seconds_since_expiry"] > 0
        assert "m1 stopped renewing its lease" in row["detail"]
        assert "waiting for another member to take it over" in row["detail"]
    assert lapsed["members"]["m1"]["leases"] == {
        "held": 0,
        "expired": 3,
        "oldest_renewal_seconds": None,
    }
    assert main(["fleet", "--fleet", fleet_url, "status"]) == 0  # the table says it too
    table = capsys.readouterr().out
    assert "expired" in table and "awaiting_member: its member m1 stopped renewing" in table

    # m2 fills up: nothing will take the sessions until an operator acts.
    leases.register("m2", advertise_url=NO_API, capacity=0, pid=2)
    full = read_status(leases)
    assert {(r.state, r.reason) for r in full.sessions} == {("disconnected", "no_member")}
    assert all("all 1 live member(s) are full" in r.detail for r in full.sessions)

    # m2 gets room and claims them (past TTL + grace); once it opened them, they live again.
    leases.register("m2", advertise_url=NO_API, capacity=10, pid=2)
    age_leases(fleet_engine, GRACE + leases.patience + 1)
    assert len(leases.claim("m2", capacity=10, batch=10)) == 3
    claimed = {r.session_id: r for r in read_status(leases).sessions}
    # Claimed, not opened yet: the account still points at m1.
    assert all(
        (r.state, r.reason, r.owner) == ("disconnected", "awaiting_member", "m2")
        and "m2 took it over from m1" in r.detail
        for r in claimed.values()
    )
    _connect(fleet_engine, "m2", sids)
    after = _status(capsys, fleet_url)
    for sid in sids:
        row = after["sessions"][sid]
        assert (row["state"], row["reason"], row["owner"], row["epoch"]) == (
            "connected",
            None,
            "m2",
            2,
        )
        assert row["lease"]["health"] == "held" and row["detail"] == ""


def test_an_operator_stop_is_not_rewritten_by_a_lapsed_lease(
    fleet_engine: Engine, leases: LeaseStore
) -> None:
    (sid,) = _fleet(leases, fleet_engine, 1)
    with session_factory(fleet_engine).begin() as session:
        accounts.record_transition(
            session,
            sid,
            SessionState.STOPPED,
            at=datetime.now(UTC),
            reason=Reason.USER_INITIATED,
        )
    _lose(leases, fleet_engine, "m1")
    (row,) = read_status(leases).sessions
    assert (row.state, row.reason, row.detail) == ("stopped", "user_initiated", "")
    assert row.lease is not None and row.lease.health == "expired"


async def _next_state(
    queue: asyncio.Queue[EngineEvent], sid: str, state: SessionState | None = None
) -> SessionStateChanged:
    async with asyncio.timeout(30):  # a failure guard only
        while True:
            event = await queue.get()
            if isinstance(event, SessionStateChanged) and event.session_id == sid:
                if state is None or event.state is state:
                    return event


async def test_a_console_gets_a_state_change_when_the_lease_lapses(
    tmp_path: Path,
    fleet_url: str,
    fleet_engine: Engine,
    leases: LeaseStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(console_module, "MEMBERS_INTERVAL", 0.05)  # the console's poll
    (sid,) = _fleet(leases, fleet_engine, 1)
    settings = Settings.load(
        environ={
            "PAIRDESK_FLEET_DATABASE_URL": fleet_url,
            "PAIRDESK_LEASE_TTL": str(TTL),
            "PAIRDESK_LEASE_GRACE": str(GRACE),
            "PAIRDESK_LEASE_MARGIN": "1",
        },
        cwd=tmp_path,
    )
    console = FleetEngine(settings)
    await console.start()
    queue: asyncio.Queue[EngineEvent] = asyncio.Queue()

    async def pump() -> None:
        async for event in console.subscribe():
            queue.put_nowait(event)

    pumping = asyncio.create_task(pump())
    try:
        (info,) = await console.list_sessions()
        assert (info.state, info.instance_id) == (SessionState.CONNECTED, "m1")
        m1 = next(i for i in await console.list_instances() if i.instance_id == "m1")
        assert m1.lease_health.startswith("leases: 1 held, oldest renewed")

        _lose(leases, fleet_engine, "m1")
        event = await _next_state(queue, sid)
        assert (event.state, event.previous, event.reason) == (
            SessionState.DISCONNECTED,
            SessionState.CONNECTED,
            Reason.AWAITING_MEMBER,
        )
        assert "m1 stopped renewing" in event.detail and event.instance_id == "m1"
        (info,) = await console.list_sessions()
        assert (info.state, info.reason) == (SessionState.DISCONNECTED, Reason.AWAITING_MEMBER)
        m1 = next(i for i in await console.list_instances() if i.instance_id == "m1")
        assert "1 expired" in m1.lease_health

        # No member has room any more: the console says that too, once.
        leases.register("m2", advertise_url=NO_API, capacity=0, pid=2)
        event = await _next_state(queue, sid)
        assert (event.state, event.reason) == (SessionState.DISCONNECTED, Reason.NO_MEMBER)

        # m2 takes it over and opens it: the console shows the state it lives in.
        leases.register("m2", advertise_url=NO_API, capacity=10, pid=2)
        age_leases(fleet_engine, GRACE + leases.patience + 1)
        assert len(leases.claim("m2", capacity=10, batch=10)) == 1
        _connect(fleet_engine, "m2", [sid])
        # The console says so itself: m2's own events may have gone by unheard.
        event = await _next_state(queue, sid, SessionState.CONNECTED)
        assert (event.instance_id, event.previous) == ("m2", SessionState.DISCONNECTED)
        (info,) = await console.list_sessions()
        assert (info.state, info.reason) == (SessionState.CONNECTED, None)
    finally:
        pumping.cancel()
        await console.aclose()
