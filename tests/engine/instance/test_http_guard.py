"""The instance API reads no body before the token, caps bodies, and hides its routes.

A 400 MB POST is streamed lazily in 64 KiB chunks and the test counts the
bytes the server pulls: the server must refuse it having read nothing (wrong
or missing token, declared length over the cap) or at most the cap.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.engine.instance.http_api import build_app
from app.engine.instance.http_guard import UNAUTHENTICATED_BODY
from app.http_limits import MAX_BODY
from tests.asgi_bodies import CHUNK, StreamedBody, call
from tests.engine.instance_harness import TOKEN, api_client, running_instance

HUGE = 400 * 1024 * 1024
BEARER = {"Authorization": f"Bearer {TOKEN}"}


async def test_a_wrong_token_is_refused_before_any_body_byte_is_read(tmp_path: Path) -> None:
    async with running_instance(tmp_path) as h:
        app = build_app(h.instance)
        for headers, query in (({"Authorization": "Bearer nope"}, ""), ({}, "api_key=nope")):
            body = StreamedBody(HUGE)
            status, _ = await call(app, "POST", "/api/sessions", body, headers=headers, query=query)
            assert (status, body.read) == (401, 0)


async def test_a_declared_length_over_the_cap_is_refused_unread(tmp_path: Path) -> None:
    async with running_instance(tmp_path) as h:
        app = build_app(h.instance)
        for headers in ({"content-length": str(HUGE)}, {**BEARER, "content-length": str(HUGE)}):
            body = StreamedBody(HUGE)
            status, answer = await call(app, "POST", "/api/sessions", body, headers=headers)
            assert (status, body.read) == (413, 0)
            assert b"too_large" in answer


@pytest.mark.parametrize(
    ("headers", "cap"), [({}, UNAUTHENTICATED_BODY), (BEARER, MAX_BODY)], ids=["no-token", "token"]
)
async def test_a_streamed_body_stops_being_read_at_the_cap(
    tmp_path: Path, headers: dict[str, str], cap: int
) -> None:
    """No Content-Length (chunked): read up to the cap, then 413; never the 400 MB."""
    async with running_instance(tmp_path) as h:
        body = StreamedBody(HUGE)
        status, _ = await call(
            build_app(h.instance), "POST", "/api/sessions", body, headers=headers
        )
    assert status == 413
    assert body.read <= cap + CHUNK
    assert h.host.calls == []


async def test_unknown_paths_and_methods_answer_401_until_authenticated(tmp_path: Path) -> None:
    async with running_instance(tmp_path) as h:
        async with api_client(h.instance, auth=False) as anonymous:
            assert (await anonymous.get("/api/nothing-here")).status_code == 401
            assert (await anonymous.put("/api/sessions")).status_code == 401
            assert (await anonymous.get("/.env")).status_code == 401
        async with api_client(h.instance) as client:
            assert (await client.get("/api/nothing-here")).status_code == 404
            assert (await client.put("/api/sessions")).status_code == 405


async def test_api_key_in_a_small_body_still_authenticates(tmp_path: Path) -> None:
    async with running_instance(tmp_path) as h, api_client(h.instance, auth=False) as client:
        wrong = await client.post("/api/sessions", json={"workspace_id": 4, "api_key": "nope"})
        right = await client.post(
            "/api/sessions",
            json={"workspace_id": 4, "session_id": "webjs_4_1700000000_abcd1234", "api_key": TOKEN},
        )
    assert wrong.status_code == 401
    assert right.status_code == 201
