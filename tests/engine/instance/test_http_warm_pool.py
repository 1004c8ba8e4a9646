"""`POST /api/warm-pool`: a warm-up reaches the host, bad bodies are refused with why."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.engine.api import WARM_UP_SECONDS
from tests.engine.instance_harness import api_client, running_instance


async def test_a_warm_up_reaches_the_host_and_answers_the_warm_status(tmp_path: Path) -> None:
    async with running_instance(tmp_path) as h, api_client(h.instance) as client:
        response = await client.post("/api/warm-pool", json={"pages": 4, "seconds": 120})
        default = await client.post("/api/warm-pool", json={"pages": 0})
        health = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "warm_ready": 0,
        "warm_target": 4,
        "seconds": 120.0,
    }
    assert default.status_code == 200
    assert h.host.warm_ups == [(4, 120.0), (0, WARM_UP_SECONDS)]
    assert health.json()["warm_target"] == 0


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({}, '"pages" must be a whole number'),
        ({"pages": -1}, '"pages" must be a whole number'),
        ({"pages": 2.5}, '"pages" must be a whole number'),
        ({"pages": "4"}, '"pages" must be a whole number'),
        ({"pages": True}, '"pages" must be a whole number'),
        ({"pages": 10**30}, '"pages" must be a whole number'),
        ({"pages": 5000}, "more than any instance keeps"),
        ({"pages": 4, "seconds": 0}, '"seconds" must be a number'),
        ({"pages": 4, "seconds": -5}, '"seconds" must be a number'),
        ({"pages": 4, "seconds": "60"}, '"seconds" must be a number'),
        ({"pages": 4, "seconds": 10**7}, '"seconds" must be a number'),
        ([4], "must be a JSON object"),
    ],
)
async def test_a_bad_warm_up_is_refused_with_what_is_wrong(
    tmp_path: Path, body: object, problem: str
) -> None:
    async with running_instance(tmp_path) as h, api_client(h.instance) as client:
        response = await client.post("/api/warm-pool", json=body)
    assert response.status_code == 422
    assert response.json()["success"] is False
    assert response.json()["code"] == "invalid"
    assert problem in response.json()["error"]
    assert h.host.warm_ups == []


async def test_nan_seconds_are_refused(tmp_path: Path) -> None:
    async with running_instance(tmp_path) as h, api_client(h.instance) as client:
        response = await client.post(
            "/api/warm-pool",
            content=b'{"pages": 4, "seconds": NaN}',
            headers={"Content-Type": "application/json"},
        )
    assert response.status_code == 422
    assert h.host.warm_ups == []
