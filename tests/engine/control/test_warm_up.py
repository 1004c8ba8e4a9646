"""A warm-up spread over instances: each gets its share, and one that is down or
refuses is skipped, never an error for the console."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from app.engine.api import MAX_WARM_UP_PAGES, EngineError
from app.engine.control.warm_up import share_of, warm_up_instances
from app.engine.supervisor.client import InstanceClient
from tests.engine.control.test_engine import Harness, running_engine

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


async def _targets(engine: object) -> dict[str, int]:
    """Each instance's `warm_target` as its /health reports it now."""
    sup = engine._supervisor  # type: ignore[attr-defined]
    out = {}
    for iid in sup.known_ids():
        client = sup.client(iid)
        assert client is not None
        out[iid] = (await client.health()).warm_target
    return out
