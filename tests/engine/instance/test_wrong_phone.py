"""The instance keeps an account's stored phone when another phone links it."""

from __future__ import annotations

from pathlib import Path

from app.store import accounts, create_engine_for, session_factory
from tests.engine.instance_harness import api_client, running_instance

SID = "webjs_42_1700000000_abcd1234"


async def test_a_different_phone_linking_does_not_overwrite_the_stored_one(tmp_path: Path) -> None:
    async with running_instance(tmp_path) as h, api_client(h.instance) as client:
        await client.post("/api/sessions", json={"workspace_id": 42, "session_id": SID})
        engine = create_engine_for(h.settings.effective_database_url)
        sessions = session_factory(engine)
        try:
            with sessions.begin() as session:  # the sheet's phone, as onboarding stores it
                accounts.update_account(session, SID, phone_number="6281211112222")
            h.host.scan(SID, phone="6289900001111")
            await h.instance.flush()
            with sessions() as session:
                stored = accounts.get_account(session, SID)
        finally:
            engine.dispose()
    assert stored.phone_number == "6281211112222"
