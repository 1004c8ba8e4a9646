"""A warm-up spread over instances: each gets its share, and one that is down or
refuses is skipped, never an error for the console. While it lasts it follows the
instances: one that restarts or is added is asked for its share of what remains, and
the survivors of one that stays down share its part."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app.engine.api import MAX_WARM_UP_PAGES, EngineError
from app.engine.control import warm_up as warm_up_module
from app.engine.control.engine import SupervisedEngine
from app.engine.control.warm_up import share_of, warm_up_instances
from app.engine.supervisor.client import InstanceClient
from tests.engine.control.test_engine import Harness, _eventually_async, running_engine
from tests.engine.engine_support import eventually

Handler = Callable[[httpx.Request], httpx.Response]


def _client(name: str, handler: Handler) -> InstanceClient:
    return InstanceClient(
        base_url=f"http://{name}.test/",
        token="t",
        name=name,
        transport=httpx.MockTransport(handler),
    )


def _recording(into: list[dict[str, object]]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        assert (request.method, request.url.path) == ("POST", "/api/warm-pool")
        body = json.loads(request.content)
        into.append(body)
        return httpx.Response(200, json={"success": True, "warm_target": body["pages"]})

    return handler


def _down(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def _refusing(request: httpx.Request) -> httpx.Response:
    return httpx.Response(503, json={"success": False, "error": "shutting down"})


def test_each_instance_keeps_its_share_within_the_limit() -> None:
    assert share_of(5, 2) == 3
    assert share_of(4, 2) == 2
    assert share_of(1, 3) == 1
    assert share_of(0, 2) == 0
    assert share_of(100, 2) == MAX_WARM_UP_PAGES
    assert share_of(4, 0) == 0


async def test_instances_that_are_down_or_refuse_are_skipped() -> None:
    seen: list[dict[str, object]] = []
    clients = {
        "instance-0": _client("instance-0", _recording(seen)),
        "instance-1": _client("instance-1", _down),
        "instance-2": _client("instance-2", _refusing),
    }
    try:
        await warm_up_instances(clients, 7, 60.0)
    finally:
        for client in clients.values():
            await client.aclose()
    assert seen == [{"pages": 3, "seconds": 60.0}]


async def test_no_instance_is_nothing_to_do_and_bad_requests_are_refused() -> None:
    await warm_up_instances({}, 4, 60.0)
    with pytest.raises(EngineError, match="0 or more"):
        await warm_up_instances({}, -1, 60.0)
    with pytest.raises(EngineError, match="positive number of seconds"):
        await warm_up_instances({}, 4, 0.0)


async def test_the_engine_splits_a_warm_up_over_its_running_instances(tmp_path: Path) -> None:
    harness = Harness(tmp_path)
    try:
        async with running_engine(harness) as (engine, _):
            await engine.warm_up(5, seconds=30.0)
            assert await _targets(engine) == {"instance-0": 3, "instance-1": 3}
            await engine.warm_up(0)
            assert await _targets(engine) == {"instance-0": 0, "instance-1": 0}
    finally:
        harness.db.dispose()


async def test_an_instance_that_refuses_does_not_stop_the_others(tmp_path: Path) -> None:
    harness = Harness(tmp_path)
    harness.launcher.env_for[1] = {"FAKE_REFUSE_WARM": "1"}
    try:
        async with running_engine(harness) as (engine, _):
            await engine.warm_up(6)  # no exception: a warm-up is only an optimisation
            assert await _targets(engine) == {"instance-0": 3, "instance-1": 2}
    finally:
        harness.db.dispose()


async def test_a_killed_instance_is_asked_again_for_the_seconds_that_remain(
    warm: Warm, clock: _Clock
) -> None:
    engine, _ = warm
    await engine.warm_up(6, seconds=600.0)
    clock.now += 250.0
    pid = _kill(engine, "instance-0")
    await _back(engine, "instance-0", pid)
    assert await _asked(engine, "instance-0") == [{"pages": 3, "seconds": 350.0}]
    assert await _targets(engine) == {"instance-0": 3, "instance-1": 3}


async def test_the_survivor_of_an_instance_that_stays_down_keeps_its_part_too(
    warm: Warm,
) -> None:
    engine, harness = warm
    pages = MAX_WARM_UP_PAGES + 2
    assert share_of(pages, 2) < MAX_WARM_UP_PAGES < pages  # two shares, then the limit
    await engine.warm_up(pages, seconds=600.0)
    both = dict.fromkeys(("instance-0", "instance-1"), share_of(pages, 2))
    assert await _targets(engine) == both
    harness.launcher.env_for[1]["FAKE_FAIL_START"] = "1"  # it stays down
    _kill(engine, "instance-1")
    grown = {"pages": MAX_WARM_UP_PAGES, "seconds": 600.0}

    async def survivor_grown() -> bool:
        return (await _asked(engine, "instance-0"))[-1] == grown

    await _eventually_async(survivor_grown, what="instance-0 asked for the whole batch")


async def test_an_added_instance_gets_its_share_and_the_others_give_theirs_up(
    warm: Warm,
) -> None:
    engine, _ = warm
    await engine.warm_up(9, seconds=600.0)
    assert await _targets(engine) == {"instance-0": 5, "instance-1": 5}
    await engine.add_instance()
    await _synced(engine, "instance-2")
    assert await _asked(engine, "instance-2") == [{"pages": 3, "seconds": 600.0}]
    assert await _targets(engine) == {"instance-0": 3, "instance-1": 3, "instance-2": 3}


@pytest.mark.parametrize("ended_by", ["warm_up(0)", "its end time"])
async def test_an_ended_warm_up_is_not_asked_again(
    warm: Warm, clock: _Clock, ended_by: str
) -> None:
    engine, _ = warm
    await engine.warm_up(6, seconds=600.0)
    pid = _kill(engine, "instance-0")
    await _back(engine, "instance-0", pid)
    assert await _asked(engine, "instance-0") == [{"pages": 3, "seconds": 600.0}]
    if ended_by == "warm_up(0)":
        await engine.warm_up(0)
    else:
        clock.now += 600.0
    before = await _asked(engine, "instance-0")
    pid = _kill(engine, "instance-1")
    await _back(engine, "instance-1", pid)
    assert await _asked(engine, "instance-1") == []
    assert await _asked(engine, "instance-0") == before


@dataclass
class _Clock:
    """The warm-ups' monotonic clock (`warm_up.monotonic`), moved by hand."""

    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


Warm = tuple[SupervisedEngine, Harness]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    fake = _Clock()
    monkeypatch.setattr(warm_up_module, "monotonic", fake)
    return fake


@pytest.fixture
async def warm(tmp_path: Path, clock: _Clock) -> AsyncIterator[Warm]:
    """A running engine over two fake instances whose warm-ups read `clock`."""
    harness = Harness(tmp_path)
    try:
        async with running_engine(harness) as (engine, _):
            yield engine, harness
    finally:
        harness.db.dispose()


def _kill(engine: SupervisedEngine, instance_id: str) -> int:
    info = engine._supervisor.info(instance_id)  # type: ignore[union-attr]
    assert info is not None and info.pid
    os.kill(info.pid, signal.SIGKILL)
    return info.pid


async def _back(engine: SupervisedEngine, instance_id: str, pid: int) -> None:
    """Until a new process of `instance_id` runs and the engine has synced with it."""
    sup = engine._supervisor
    assert sup is not None

    def restarted() -> bool:
        info = sup.info(instance_id)
        return info is not None and info.alive and info.pid != pid

    await eventually(restarted, what=f"{instance_id} back")
    await _synced(engine, instance_id)


async def _synced(engine: SupervisedEngine, instance_id: str) -> None:
    """Until the engine's ready hook (which asks for the warm-up again) has returned
    for the process of `instance_id` running now."""
    sup = engine._supervisor
    assert sup is not None
    async with asyncio.timeout(60):  # only guards against a hang
        await sup._slots[instance_id].synced.wait()


async def _asked(engine: SupervisedEngine, instance_id: str) -> list[dict[str, object]]:
    """The warm-ups the running process of `instance_id` was asked for, in order."""
    client = engine._supervisor.client(instance_id)  # type: ignore[union-attr]
    assert client is not None
    response = await client._client.get("fake/warm-ups")
    assert response.status_code == 200
    warm_ups: list[dict[str, object]] = response.json()["warm_ups"]
    return warm_ups


async def _targets(engine: object) -> dict[str, int]:
    """Each instance's `warm_target` as its /health reports it now."""
    sup = engine._supervisor  # type: ignore[attr-defined]
    out = {}
    for iid in sup.known_ids():
        client = sup.client(iid)
        assert client is not None
        out[iid] = (await client.health()).warm_target
    return out
