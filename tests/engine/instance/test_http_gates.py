"""The gates on the instance API: pairing codes (`POST .../pairing-code`), the passkey
window (`POST .../open-window`), per-account proxies (at creation and `POST .../proxy`),
and what reaches the outbox for them."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select

from app.domain.outbox import OutboxState
from app.store.models import OutboxRow
from tests.engine.instance_harness import api_client, running_instance

WS = 42
SID = "webjs_42_1700000000_abcd1234"
PHONE = "6281234567890"
SECRET = "pa55-w0rd"
PROXY = f"http://alice:{SECRET}@proxy.example.com:3128"
SHOWN = "http://alice@proxy.example.com:3128"


async def _rows(h: object, name: str) -> list[OutboxRow]:
    await h.instance.flush()  # type: ignore[attr-defined]
    with h.store.sessions() as session:  # type: ignore[attr-defined]
        return list(session.scalars(select(OutboxRow).where(OutboxRow.name == name)))


async def test_pairing_code_answers_the_code_and_publishes_it(tmp_path: Path) -> None:
    async with running_instance(tmp_path) as h, api_client(h.instance) as client:
        await client.post("/api/sessions", json={"workspace_id": WS, "session_id": SID})
        listener = h.instance.hub.listen(types=("pairing_code",))
        answer = await client.post(
            f"/api/sessions/{SID}/pairing-code", json={"phone": "+62 812-3456-7890"}
        )
        item = await listener.get(timeout=5)
        listener.detach()
        status = (await client.get(f"/api/sessions/{SID}/status")).json()
        quiet = await client.post(
            f"/api/sessions/{SID}/pairing-code", params={"wait": "false"}, json={"phone": PHONE}
        )
        # Not sent to the platform unless the setting says so (it may not know the event).
        assert await _rows(h, "pairing_code_generated") == []
    body = answer.json()
    assert answer.status_code == 200 and body["code"] == "CODE0001"
    assert body["code_display"] == "CODE-0001" and body["phone"] == PHONE
    assert 175 <= body["expires_in"] <= 180
    assert item is not None and item.body["code"] == "CODE0001"
    assert status["pairing_code"] == "CODE0001" and status["qr"] is None
    assert quiet.json() == {"success": True, "session_id": SID, "code": None}


async def test_pairing_code_refusals(tmp_path: Path) -> None:
    async with running_instance(tmp_path) as h, api_client(h.instance) as client:
        await client.post("/api/sessions", json={"workspace_id": WS, "session_id": SID})
        bad = await client.post(f"/api/sessions/{SID}/pairing-code", json={"phone": "12ab"})
        missing = await client.post(f"/api/sessions/{SID}/pairing-code", json={})
        h.host.scan(SID)
        linked = await client.post(f"/api/sessions/{SID}/pairing-code", json={"phone": PHONE})
    assert bad.status_code == 422 and "phone" in bad.json()["error"]
    assert missing.status_code == 422
    assert linked.status_code == 409 and "connected" in linked.json()["error"]


async def test_pairing_code_of_a_stopped_session_starts_it(tmp_path: Path) -> None:
    async with running_instance(tmp_path) as h, api_client(h.instance) as client:
        await client.post("/api/sessions", json={"workspace_id": WS, "session_id": SID})
        await client.post(f"/api/sessions/{SID}/stop")
        answer = await client.post(f"/api/sessions/{SID}/pairing-code", json={"phone": PHONE})
    assert answer.status_code == 200 and answer.json()["code"]
    assert h.host.calls[-2:] == [("start", SID), ("pairing_code", SID)]


async def test_pairing_code_webhook_when_the_setting_is_on(tmp_path: Path) -> None:
    async with (
        running_instance(tmp_path, pairing_code_webhook=True) as h,
        api_client(h.instance) as client,
    ):
        await client.post("/api/sessions", json={"workspace_id": WS, "session_id": SID})
        await client.post(f"/api/sessions/{SID}/pairing-code", json={"phone": PHONE})
        await client.post(f"/api/sessions/{SID}/pairing-code", json={"phone": PHONE})
        rows = await _rows(h, "pairing_code_generated")
    assert [r.payload["pairing_code"] for r in rows] == ["CODE0001", "CODE0002"]
    assert rows[0].payload["phone_number"] == PHONE
    # An old code is worth nothing once a newer one is queued: never sent late.
    assert [r.state for r in rows] == [OutboxState.SUPERSEDED.value, OutboxState.PENDING.value]


async def test_passkey_is_a_session_error_and_opens_in_a_window(tmp_path: Path) -> None:
    async with running_instance(tmp_path) as h, api_client(h.instance) as client:
        await client.post("/api/sessions", json={"workspace_id": WS, "session_id": SID})
        early = await client.post(f"/api/sessions/{SID}/open-window")
        h.host.passkey(SID)
        opened = await client.post(f"/api/sessions/{SID}/open-window")
        errors = await _rows(h, "session_error")
    assert early.status_code == 409 and "passkey" in early.json()["error"]
    assert opened.status_code == 200 and opened.json()["state"] == "passkey_required"
    assert opened.json()["status"] == "authenticated"
    assert [r.payload["error"] for r in errors] == ["passkey_required"]
    assert "Open in a window" in errors[0].payload["message"]


async def test_a_proxy_is_kept_with_the_account_and_never_shown_with_its_password(
    tmp_path: Path,
) -> None:
    async with running_instance(tmp_path) as h, api_client(h.instance) as client:
        created = await client.post(
            "/api/sessions", json={"workspace_id": WS, "session_id": SID, "proxy": PROXY}
        )
        status = await client.get(f"/api/sessions/{SID}/status")
        listed = await client.get("/api/sessions")
        given = h.host.proxies[SID]
        cleared = await client.post(f"/api/sessions/{SID}/proxy", json={"proxy": None})
        await client.post(f"/api/sessions/{SID}/restart")
        after_clear = h.host.proxies[SID]
        changed = await client.post(
            f"/api/sessions/{SID}/proxy", json={"proxy": "socks5://10.0.0.9:1080"}
        )
        await client.post(f"/api/sessions/{SID}/restart")
        after_change = h.host.proxies[SID]
        refused = await client.post(f"/api/sessions/{SID}/proxy", json={"proxy": "ftp://x:21"})
        missing = await client.post(f"/api/sessions/{SID}/proxy", json={})
        socks_auth = await client.post(
            "/api/sessions",
            json={
                "workspace_id": WS,
                "session_id": "webjs_42_1700000000_zzzzzzzz",
                "proxy": "socks5://u:p@h:1",
            },
        )
        await asyncio.sleep(0)
    assert created.status_code == 201
    assert status.json()["proxy"] == SHOWN
    assert SECRET not in status.text and SECRET not in listed.text
    assert given is not None and given.password == SECRET, "the browser gets the password"
    assert cleared.json() == {"success": True, "session_id": SID, "proxy": None}
    assert after_clear is None
    assert changed.json()["proxy"] == "socks5://10.0.0.9:1080"
    assert after_change is not None and after_change.scheme == "socks5"
    assert refused.status_code == 422 and "not supported" in refused.json()["error"]
    assert missing.status_code == 422
    assert socks_auth.status_code == 422 and "SOCKS5" in socks_auth.json()["error"]
