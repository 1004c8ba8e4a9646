"""The gates through the whole engine (real instances, real Chromium, the embedded
sandbox): a pairing code asked from the console's door reaches the subscriber as an
event and links the account; an account's proxy is stored with it and used by its own
context only; a block is a named, parked state with its webhook."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from app.domain.events import PairingCodeIssued, SessionReady, SessionStateChanged
from app.domain.models import AccountSpec
from app.domain.proxy import parse_proxy
from app.domain.states import Reason, SessionState
from app.engine.api import EngineError
from app.sandbox import AsyncTestPhone
from app.store import create_engine_for, session_factory
from app.store.models import OutboxRow
from tests.engine.engine_e2e_support import engine_with_watch, scan
from tests.engine.gate_support import ForwardingProxy

pytestmark = pytest.mark.e2e
S = SessionState
PHONE = "6281277700001"
SECRET = "e2e-Secret-9"


async def test_gates_through_the_engine(tmp_path: Path) -> None:
    async with (
        ForwardingProxy("bob", SECRET) as proxy,
        engine_with_watch(tmp_path, warm_pool=1) as (engine, watch),
    ):
        phone = AsyncTestPhone(engine.sandbox_url)
        try:
            # By phone number: the account is created stopped; asking for a code opens it.
            (by_code,) = await engine.add_accounts(
                [AccountSpec(workspace_id=21, label="by phone", phone_number=PHONE)], start=False
            )
            with pytest.raises(EngineError, match="phone"):
                await engine.request_pairing_code(by_code.session_id, "not a number")
            await engine.request_pairing_code(by_code.session_id, "+" + PHONE)
            code = await watch.until(
                "a pairing code",
                lambda e: isinstance(e, PairingCodeIssued) and e.session_id == by_code.session_id,
            )
            assert isinstance(code, PairingCodeIssued) and code.phone == PHONE
            row = next(r for r in await engine.list_sessions() if r.session_id == code.session_id)
            assert row.pairing_code == code.code and row.state is S.QR
            await phone.pair(code.display_code, PHONE)
            await watch.until(
                "linked by code",
                lambda e: isinstance(e, SessionReady) and e.session_id == by_code.session_id,
            )

            # A proxy given at creation is used by that account's page only.
            sandbox = urlsplit(engine.sandbox_url).netloc
            proxied, plain = await engine.add_accounts(
                [
                    AccountSpec(workspace_id=22, proxy=parse_proxy(proxy.url_with("bob", SECRET))),
                    AccountSpec(workspace_id=22),
                ]
            )
            await scan(watch, phone, proxied.session_id, "6281277700002")
            await scan(watch, phone, plain.session_id, "6281277700003")
            for sid in (proxied.session_id, plain.session_id):
                await watch.until(
                    f"{sid} connected",
                    lambda e, sid=sid: isinstance(e, SessionReady) and e.session_id == sid,
                )
            loads = [p for p in proxy.requests_to(sandbox) if p.method == "GET"]
            assert len(loads) == 1, "one page (the proxied account's) came through the proxy"
            rows = {r.session_id: r for r in await engine.list_sessions()}
            assert rows[proxied.session_id].proxy == proxy.url.replace("://", "://bob@")
            assert rows[plain.session_id].proxy == ""
            assert SECRET not in repr(rows)

            # Changing it later: refused when malformed, shown without the password.
            with pytest.raises(EngineError, match="scheme"):
                await engine.set_proxy(plain.session_id, "proxy.example.com:3128")
            changed = await engine.set_proxy(plain.session_id, "http://eve:pw@10.1.2.3:8080")
            assert changed.proxy == "http://eve@10.1.2.3:8080"
            assert (await engine.set_proxy(plain.session_id, "")).proxy == ""

            # A block: named, parked, and told to the platform with the operator's words.
            mark = len(watch.events)
            await phone.set_faults(block_state="TOS_BLOCK", block_phone="6281277700002")
            failed = await watch.until(
                "blocked",
                lambda e: (
                    isinstance(e, SessionStateChanged)
                    and e.session_id == proxied.session_id
                    and e.state is S.FAILED
                    and watch.events.index(e) >= mark
                ),
            )
            assert isinstance(failed, SessionStateChanged)
            assert failed.reason is Reason.TOS_BLOCK
        finally:
            await phone.aclose()
        db = create_engine_for(engine._settings.effective_database_url)
        try:
            with session_factory(db)() as session:
                rows_out = list(session.scalars(select(OutboxRow)))
        finally:
            db.dispose()
        errors = [r.payload for r in rows_out if r.name == "session_error"]
        assert any(p["error"] == "TOS_BLOCK" and "terms of service" in p["message"] for p in errors)
        assert not [r for r in rows_out if r.name == "pairing_code_generated"], "setting is off"
