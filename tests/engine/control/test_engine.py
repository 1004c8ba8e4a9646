"""The real engine (store, placement, supervisor) over fake instance processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.config import Settings
from app.domain.events import (
    EngineEvent,
    InstanceLoad,
    QrIssued,
    SessionError,
    SessionReady,
    SessionStateChanged,
    SyncStatus,
)
from app.domain.models import AccountSpec, InstanceInfo
from app.domain.states import Reason, SessionState
from app.engine.api import EngineError
from app.engine.control.engine import Runtime, SupervisedEngine
from app.engine.control.fanout import Subscription
from app.engine.control.store import EngineStore
from app.engine.supervisor.supervisor import SupervisorConfig
from app.store import accounts, create_engine_for, session_factory, upgrade
from tests.engine.engine_support import FakeLauncher, eventually, grandchildren, running

CONFIG = SupervisorConfig(
    instances=2,
    capacity=3,
    health_interval=0.2,
    health_timeout=1.0,
    sample_interval=0.2,
    backoff_initial=0.2,
    backoff_max=0.5,
    failover_after=3,
    stop_grace=3.0,
)


class Harness:
    def __init__(self, folder: Path) -> None:
        self.url = f"sqlite:///{folder / 'pairdesk.db'}"
        self.launcher = FakeLauncher(folder=folder)
        self.db = create_engine_for(self.url)
        upgrade(self.db)
        self.sessions = session_factory(self.db)
        self.events: list[EngineEvent] = []

    def engine(self, config: SupervisorConfig = CONFIG) -> SupervisedEngine:
        for index in range(8):
            self.launcher.env_for.setdefault(index, {})["PAIRDESK_DATABASE_URL"] = self.url

        async def prepare(stack: contextlib.AsyncExitStack) -> Runtime:
            return Runtime(store=EngineStore(sessions=self.sessions), launcher=self.launcher)

        return SupervisedEngine(settings=Settings(), prepare=prepare, supervisor_config=config)

    def stored(self, session_id: str) -> str | None:
        with self.sessions() as s:
            info = accounts.find_account(s, session_id)
        return info.instance_id if info is not None else None

    async def scan(self, engine: SupervisedEngine, session_id: str) -> None:
        """What the test phone does: the fake links the session (restorable from now on)."""
        info = next(i for i in await engine.list_sessions() if i.session_id == session_id)
        client = engine._supervisor.client(info.instance_id)  # type: ignore[union-attr]
        assert client is not None
        response = await client._client.post(f"fake/scan/{session_id}")
        assert response.status_code == 200


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    h = Harness(tmp_path)
    yield h
    h.db.dispose()


@contextlib.asynccontextmanager
async def running_engine(
    h: Harness, config: SupervisorConfig = CONFIG
) -> AsyncIterator[tuple[SupervisedEngine, Subscription]]:
    engine = h.engine(config)
    await engine.start()
    events = engine.subscribe()
    try:
        yield engine, events
    finally:
        await engine.aclose()


async def collect(events: Subscription, into: list[EngineEvent]) -> None:
    async for event in events:
        into.append(event)


def seen(log: list[EngineEvent], kind: type, **match: object) -> Callable[[], bool]:
    return lambda: any(
        isinstance(e, kind) and all(getattr(e, k) == v for k, v in match.items()) for e in log
    )


async def test_added_accounts_are_placed_saved_and_show_a_qr(harness: Harness) -> None:
    async with running_engine(harness) as (engine, events):
        log: list[EngineEvent] = []
        async with _collecting(events, log):
            infos = await engine.add_accounts([AccountSpec(workspace_id=7) for _ in range(4)])
            assert len({i.session_id for i in infos}) == 4
            for info in infos:
                assert info.session_id.startswith("webjs_7_")
                assert info.instance_id in ("instance-0", "instance-1")
                assert harness.stored(info.session_id) == info.instance_id
                await eventually(seen(log, QrIssued, session_id=info.session_id), what="a QR")
            rows = {r.session_id: r for r in await engine.list_sessions()}
            for info in infos:
                row = rows[info.session_id]
                assert row.state is SessionState.QR and row.qr and row.qr_expires_at is not None
            qr_events = [e for e in log if isinstance(e, QrIssued)]
            assert all(rows[e.session_id].instance_id == e.instance_id for e in qr_events)


async def test_accounts_beyond_capacity_are_refused_before_anything_is_created(
    harness: Harness,
) -> None:
    async with running_engine(harness) as (engine, _):
        with pytest.raises(EngineError, match="add an instance or raise max_sessions"):
            await engine.add_accounts([AccountSpec(workspace_id=1) for _ in range(7)])
        assert await engine.list_sessions() == []
        with pytest.raises(EngineError, match="workspace id"):
            await engine.add_accounts([AccountSpec(workspace_id=0)])


async def test_a_killed_instance_comes_back_with_its_sessions_connected_without_a_qr(
    harness: Harness,
) -> None:
    async with running_engine(harness) as (engine, events):
        log: list[EngineEvent] = []
        async with _collecting(events, log):
            (info,) = await engine.add_accounts([AccountSpec(workspace_id=3)])
            await eventually(seen(log, QrIssued, session_id=info.session_id))
            await harness.scan(engine, info.session_id)
            await eventually(seen(log, SessionReady, session_id=info.session_id))
            before = next(
                i for i in await engine.list_instances() if i.instance_id == info.instance_id
            )
            log.clear()
            os.kill(before.pid, signal.SIGKILL)
            await eventually(
                seen(log, SessionStateChanged, state=SessionState.DISCONNECTED),
                what="disconnected while the instance is down",
            )
            lost = next(e for e in log if isinstance(e, SessionStateChanged))
            assert lost.reason is Reason.INSTANCE_RESTART and lost.session_id == info.session_id

            async def connected() -> bool:
                rows = {r.session_id: r for r in await engine.list_sessions()}
                return rows[info.session_id].state is SessionState.CONNECTED

            await _eventually_async(connected, what="connected again")
            assert not any(isinstance(e, QrIssued) for e in log)
            after = next(
                i for i in await engine.list_instances() if i.instance_id == info.instance_id
            )
            assert after.pid != before.pid and after.restarts == 1
            assert harness.stored(info.session_id) == info.instance_id


async def test_sessions_of_an_instance_that_stays_down_move_to_a_live_one(
    harness: Harness,
) -> None:
    async with running_engine(harness) as (engine, events):
        log: list[EngineEvent] = []
        async with _collecting(events, log):
            infos = await engine.add_accounts([AccountSpec(workspace_id=5) for _ in range(3)])
            for info in infos:
                await eventually(seen(log, QrIssued, session_id=info.session_id))
                await harness.scan(engine, info.session_id)
                await eventually(seen(log, SessionReady, session_id=info.session_id))
            rows = await engine.list_sessions()
            victim = max(
                ("instance-0", "instance-1"),
                key=lambda iid: sum(r.instance_id == iid for r in rows),
            )
            survivor = "instance-1" if victim == "instance-0" else "instance-0"
            moving = [r.session_id for r in rows if r.instance_id == victim]
            pid = next(i.pid for i in await engine.list_instances() if i.instance_id == victim)
            index = int(victim.rsplit("-", 1)[1])
            harness.launcher.env_for[index]["FAKE_FAIL_START"] = "1"
            os.kill(pid, signal.SIGKILL)

            async def moved() -> bool:
                rows = {r.session_id: r for r in await engine.list_sessions()}
                return all(
                    rows[sid].instance_id == survivor and rows[sid].state is SessionState.CONNECTED
                    for sid in moving
                )

            await _eventually_async(moved, what="sessions connected on the survivor")
            assert all(harness.stored(sid) == survivor for sid in moving)


async def test_operations_reach_the_instance_that_runs_the_session(harness: Harness) -> None:
    async with running_engine(harness) as (engine, events):
        log: list[EngineEvent] = []
        async with _collecting(events, log):
            (info,) = await engine.add_accounts([AccountSpec(workspace_id=9)])
            await eventually(seen(log, QrIssued, session_id=info.session_id, qr_count=1))
            await engine.regenerate_qr(info.session_id)
            await eventually(seen(log, QrIssued, session_id=info.session_id, is_regeneration=True))
            await engine.stop_session(info.session_id)
            await eventually(seen(log, SessionStateChanged, state=SessionState.STOPPED))
            await engine.start_session(info.session_id)
            await engine.remove_account(info.session_id)
            assert await engine.list_sessions() == []
            assert harness.stored(info.session_id) is None
            with pytest.raises(EngineError, match="no account"):
                await engine.stop_session(info.session_id)


async def test_sessions_of_a_removed_instance_are_adopted_at_start(harness: Harness) -> None:
    with harness.sessions.begin() as s:
        (info,) = accounts.create_accounts(s, [AccountSpec(workspace_id=4)], now=datetime.now(UTC))
        accounts.assign_instance(s, info.session_id, "instance-9")
    async with running_engine(harness) as (engine, _):
        placed = harness.stored(info.session_id)
        assert placed in ("instance-0", "instance-1")
        # It was stopped, so it is placed but not started.
        rows = await engine.list_sessions()
        assert rows[0].instance_id == placed and rows[0].state is SessionState.STOPPED


async def test_aclose_ends_subscriptions_and_leaves_no_process(harness: Harness) -> None:
    engine = harness.engine()
    await engine.start()
    events = engine.subscribe()
    pids = [i.pid for i in await engine.list_instances()]
    await eventually(lambda: len(grandchildren(harness.launcher.folder)) == 2)
    await engine.aclose()
    # Only instance loads and the sync indicator's status are published while idle.
    assert [e async for e in events if not isinstance(e, InstanceLoad | SyncStatus)] == []
    assert [p for p in pids + grandchildren(harness.launcher.folder) if running(p)] == []


async def test_the_engine_refuses_work_before_start(harness: Harness) -> None:
    engine = harness.engine()
    with pytest.raises(EngineError, match="not running"):
        await engine.list_instances()


# ----------------------------------------------------------------- helpers


async def _instance(engine: SupervisedEngine, instance_id: str) -> InstanceInfo:
    return next(i for i in await engine.list_instances() if i.instance_id == instance_id)


@contextlib.asynccontextmanager
async def _collecting(events: Subscription, log: list[EngineEvent]) -> AsyncIterator[None]:
    import asyncio

    task = asyncio.create_task(collect(events, log))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _eventually_async(check: Callable[[], object], *, what: str) -> None:
    import asyncio
    import time

    deadline = time.monotonic() + 60
    while not await check():  # type: ignore[misc]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def test_accounts_added_without_start_wait_for_an_operator(harness: Harness) -> None:
    async with running_engine(harness) as (engine, events):
        log: list[EngineEvent] = []
        async with _collecting(events, log):
            (info,) = await engine.add_accounts([AccountSpec(workspace_id=2)], start=False)
            assert info.state is SessionState.STOPPED and info.instance_id
            assert harness.stored(info.session_id) == info.instance_id
            await engine.start_session(info.session_id)
            await eventually(seen(log, QrIssued, session_id=info.session_id), what="a QR")
        lines = await engine.instance_log(info.instance_id)
        assert lines and lines[0].startswith(f"--- {info.instance_id} started, pid ")
        with pytest.raises(EngineError, match="no instance called instance-7"):
            await engine.instance_log("instance-7")


async def test_a_session_the_instance_refuses_stays_stopped_with_the_reason(
    harness: Harness,
) -> None:
    for index in (0, 1):
        harness.launcher.env_for[index] = {"FAKE_REFUSE_CREATE": "1"}
    async with running_engine(harness) as (engine, events):
        log: list[EngineEvent] = []
        async with _collecting(events, log):
            (info,) = await engine.add_accounts([AccountSpec(workspace_id=3)])
            await eventually(seen(log, SessionError, session_id=info.session_id), what="error")
            await eventually(
                seen(log, SessionStateChanged, session_id=info.session_id, reason=Reason.ERROR),
                what="the stop's reason",
            )
        (row,) = await engine.list_sessions()
        assert row.state is SessionState.STOPPED and row.reason is Reason.ERROR
        timeline = await engine.session_timeline(info.session_id)
        assert timeline[-1].reason is Reason.ERROR and "is full" in timeline[-1].detail


async def test_operations_on_one_session_never_overlap_but_sessions_run_in_parallel(
    harness: Harness,
) -> None:
    for index in (0, 1):
        harness.launcher.env_for[index] = {"FAKE_ACTION_DELAY": "0.1"}
    config = SupervisorConfig(**{**CONFIG.__dict__, "instances": 1})
    async with running_engine(harness, config) as (engine, _):
        infos = await engine.add_accounts([AccountSpec(workspace_id=6) for _ in range(3)])
        operations = [
            op(info.session_id)
            for info in infos
            for op in (
                engine.stop_session,
                engine.start_session,
                engine.regenerate_qr,
                engine.restart_session,
            )
        ]
        await asyncio.gather(*operations)
        client = engine._supervisor.client("instance-0")  # type: ignore[union-attr]
        assert client is not None
        report = (await client._client.get("fake/overlaps")).json()
        assert report["overlaps"] == []
        assert report["max_in_flight"] > 1
