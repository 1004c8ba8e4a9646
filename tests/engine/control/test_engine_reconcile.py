"""The engine pulls the platform's active accounts on start and reports the difference."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from app.config import Settings
from app.domain.events import ReconcileReport
from app.domain.models import AccountSpec
from app.engine.control.engine import Runtime, SupervisedEngine
from app.engine.control.store import EngineStore
from app.engine.supervisor.supervisor import SupervisorConfig
from app.sandbox.central import CentralServer
from app.sandbox.central_state import Account
from app.store import create_engine_for, session_factory, upgrade
from tests.engine.engine_support import FakeLauncher

SECRET = "engine-reconcile-secret"


async def test_a_reconcile_report_is_published_on_start(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pairdesk.db'}"
    db = create_engine_for(url)
    upgrade(db)
    store = EngineStore(sessions=session_factory(db))
    launcher = FakeLauncher(folder=tmp_path, env_for={0: {"PAIRDESK_DATABASE_URL": url}})
    with CentralServer(SECRET) as central:
        central.state.seed(Account(session_id="webjs_7_9_expected", workspace_id=7, expected=True))
        settings = Settings().with_overrides(central_url=central.url, webhook_secret=SECRET)

        async def prepare(stack: contextlib.AsyncExitStack) -> Runtime:
            return Runtime(store=store, launcher=launcher, central_url=central.url)

        engine = SupervisedEngine(
            settings=settings,
            prepare=prepare,
            supervisor_config=SupervisorConfig(instances=1, capacity=3),
        )
        events = engine.subscribe()
        await engine.start()
        try:
            await engine.add_accounts([AccountSpec(workspace_id=7)])
            async with asyncio.timeout(30):
                report = None
                async for event in events:
                    if isinstance(event, ReconcileReport):
                        report = event
                        break
        finally:
            await engine.aclose()
            db.dispose()
    assert report is not None and report.error == ""
    assert report.expected_missing == ("webjs_7_9_expected",)
    assert report.unexpected == ()  # the new account is not linked yet
