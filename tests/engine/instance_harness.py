"""Builds an `Instance` over a FakeSessionHost and a SQLite store in a temp folder."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from app.config import Settings
from app.domain.events import EngineEvent
from app.engine.instance.http_api import build_app
from app.engine.instance.instance import Instance
from app.engine.instance.store import SqlInstanceStore
from tests.engine.fake_session_host import FakeSessionHost

TOKEN = "test-token-123"


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    flags: dict[str, object] = {
        "data_dir": str(tmp_path / "data"),
        "sessions_dir": str(tmp_path / "sessions"),
        "database_url": f"sqlite:///{tmp_path / 'pairdesk.db'}",
        "max_sessions": 3,
    }
    flags.update(overrides)
    return Settings.load(environ={}, flags=flags, cwd=tmp_path)


@dataclass
class Harness:
    instance: Instance
    store: SqlInstanceStore
    settings: Settings
    hosts: list[FakeSessionHost] = field(default_factory=list)

    @property
    def host(self) -> FakeSessionHost:
        return self.hosts[-1]


@asynccontextmanager
async def running_instance(
    tmp_path: Path,
    *,
    snapshots: set[str] | None = None,
    locked: set[str] | None = None,
    **overrides: object,
) -> AsyncIterator[Harness]:
    settings = make_settings(tmp_path, **overrides)
    store = SqlInstanceStore(
        url=settings.effective_database_url, pairing_code_webhook=settings.pairing_code_webhook
    )
    hosts: list[FakeSessionHost] = []

    def factory(emit: object) -> FakeSessionHost:
        host = FakeSessionHost(emit=emit, snapshots=snapshots, locked=locked)  # type: ignore[arg-type]
        hosts.append(host)
        return host

    instance = Instance(settings=settings, index=0, token=TOKEN, host_factory=factory, store=store)
    instance.set_url("http://127.0.0.1:1/")
    await instance.start()
    try:
        yield Harness(instance=instance, store=store, settings=settings, hosts=hosts)
    finally:
        await instance.aclose()
        store.close()


@asynccontextmanager
async def api_client(instance: Instance, *, auth: bool = True) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {TOKEN}"} if auth else {}
    transport = httpx.ASGITransport(app=build_app(instance))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://instance", headers=headers
    ) as client:
        yield client


def events_of(emitted: list[EngineEvent], kind: type[EngineEvent]) -> list[EngineEvent]:
    return [e for e in emitted if isinstance(e, kind)]
