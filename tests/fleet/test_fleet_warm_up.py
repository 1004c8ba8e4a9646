"""A console attached to a fleet spreads a warm-up over the live members and spreads
it again, for the seconds that remain, when members come or go while it lasts.

A database of the test's own; the members have no process: their API is a mock that
records the warm-ups it is asked for.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from app.config import Settings
from app.engine.control import fleet_engine as console_module
from app.engine.control import warm_up as warm_up_module
from app.engine.control.fleet_engine import FleetEngine
from app.engine.supervisor.client import InstanceClient
from app.fleet.leases import LeaseStore
from tests.engine.engine_support import eventually
from tests.fleet.conftest import GRACE

pytestmark = pytest.mark.postgres

TTL = 300.0  # no member's heartbeat goes stale by itself during the test


async def test_a_fleet_warm_up_follows_members_coming_and_going(
    tmp_path: Path, fleet_url: str, fleet_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: dict[str, list[dict[str, object]]] = {}

    def member_api(request: httpx.Request) -> httpx.Response:
        if request.url.path != "/api/warm-pool":
            return httpx.Response(503, json={"error": "only warm-ups in this test"})
        body = json.loads(request.content)
        asked.setdefault(request.url.host.split(".")[0], []).append(body)
        return httpx.Response(200, json={"success": True, "warm_target": body["pages"]})

    transport = httpx.MockTransport(member_api)
    monkeypatch.setattr(
        console_module, "InstanceClient", functools.partial(InstanceClient, transport=transport)
    )
    monkeypatch.setattr(console_module, "MEMBERS_INTERVAL", 0.05)  # the console's poll
    monkeypatch.setattr(warm_up_module, "monotonic", lambda: 1000.0)  # no second goes by
    leases = LeaseStore(fleet_engine, ttl=TTL, grace=GRACE)
    for name in ("m1", "m2"):
        leases.register(name, advertise_url=f"http://{name}.test/", capacity=10, pid=1)
    settings = Settings.load(
        environ={
            "PAIRDESK_FLEET_DATABASE_URL": fleet_url,
            "PAIRDESK_LEASE_TTL": str(TTL),
            "PAIRDESK_LEASE_GRACE": str(GRACE),
        },
        cwd=tmp_path,
    )
    console = FleetEngine(settings)
    await console.start()
    try:
        await console.warm_up(12, seconds=600.0)
        six = {"pages": 6, "seconds": 600.0}
        assert asked == {"m1": [six], "m2": [six]}

        leases.register("m3", advertise_url="http://m3.test/", capacity=10, pid=1)
        four = {"pages": 4, "seconds": 600.0}
        shares = {"m1": [six, four], "m2": [six, four], "m3": [four]}
        await eventually(lambda: asked == shares, what="m3 asked for its share, m1 and m2 less")

        leases.unregister("m3")
        shares = {"m1": [six, four, six], "m2": [six, four, six], "m3": [four]}
        await eventually(lambda: asked == shares, what="m1 and m2 asked for m3's part")

        # m1 restarts under the same URL, faster than the console's poll could see it
        # gone: its new registration alone tells, and the new process gets its share.
        leases.register("m1", advertise_url="http://m1.test/", capacity=10, pid=2)
        shares = {"m1": [six, four, six, six], "m2": [six, four, six, six], "m3": [four]}
        await eventually(lambda: asked == shares, what="a restarted m1 asked again")
    finally:
        await console.aclose()
