"""The body of `pairdesk instance` in fleet mode (`fleet_database_url` set).

The same instance as the local engine's (`app/engine/instance`: host, HTTP
API, recorder), composed with a fenced store, a lease loop (`member.py`), the
watchdog process and shared snapshots. Webhooks go out for the sessions this
member holds a lease on, with `X-Instance-Url` set to its `advertise_url`.

On the way down the instance closes first (final snapshots and states are
written while the leases are still held), then the member ships the last
snapshots and releases its leases for immediate take-over, then delivery and
the server stop. A member that finds itself fenced (frozen past its deadline)
raises `MemberFenced` after closing what is left, so the process exits
non-zero and its supervisor restarts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from app.config import ConfigError, Settings
from app.engine.instance.http_api import build_app
from app.engine.instance.instance import Instance
from app.engine.instance.runner import InstanceOptions, _host_factory, write_token_file
from app.fleet.leases import LeaseStore
from app.fleet.member import FleetMember, MemberFenced
from app.fleet.snapshots import DatabaseSnapshots, SnapshotCipher, SnapshotStore
from app.fleet.store import FencedInstanceStore
from app.fleet.watchdog_client import Watchdog
from app.heap import freeze_startup_heap
from app.serving import serve_async
from app.store import create_engine_for, upgrade
from app.sync.payloads import warm_webhook_build

log = logging.getLogger(__name__)


def _with_connect_timeout(url: str, seconds: int = 5) -> str:
    """The URL with `connect_timeout` (unless given): an unreachable database fails a
    round quickly instead of holding a connection attempt for minutes."""
    if "connect_timeout=" in url:
        return url
    return f"{url}{'&' if '?' in url else '?'}connect_timeout={seconds}"


def member_name(settings: Settings, options: InstanceOptions) -> str:
    return settings.instance_name or options.instance_id or socket.gethostname()


def snapshot_store(
    settings: Settings, leases: LeaseStore, *, cipher: SnapshotCipher
) -> SnapshotStore:
    if not settings.snapshot_store:
        return DatabaseSnapshots(leases, cipher=cipher)
    from app.fleet.s3 import S3Snapshots

    return S3Snapshots.from_url(settings.snapshot_store, leases, cipher=cipher)


@contextlib.asynccontextmanager
async def _delivery(
    settings: Settings,
    central_url: str,
    advertise_url: str,
    instance: Instance,
    held: Callable[[], frozenset[str]],
    store: FencedInstanceStore,
) -> AsyncIterator[None]:
    """Webhooks of the sessions this member holds, from the shared outbox (docs/SYNC.md)."""
    if not central_url:
        yield
        return
    from app.sync.client import CentralClient
    from app.sync.deliverer import OutboxDeliverer
    from app.sync.outbox import SqlOutbox

    client = CentralClient(
        central_url=central_url,
        secret=settings.resolved_webhook_secret(),
        instance_url=advertise_url,
        timeout=settings.webhook_timeout,
    )
    deliverer = OutboxDeliverer(
        store=SqlOutbox(sessions=store.sessions), client=client, session_ids=held
    )
    instance.set_delivery_hook(deliverer.notify)
    await deliverer.start()
    try:
        yield
    finally:
        instance.set_delivery_hook(None)
        await deliverer.aclose()
        await client.aclose()


async def run_member(
    settings: Settings,
    options: InstanceOptions,
    *,
    provider_url: str,
    central_url: str,
    on_ready: Callable[[str], None],
    stop: asyncio.Event,
    cipher: SnapshotCipher,
) -> None:
    """Serve one fleet member until `stop` is set (or it finds itself fenced).

    `cipher` seals the snapshots it ships (the fleet key, `read_fleet_key`)."""
    if not provider_url:
        raise ValueError("provider_url is empty: resolve sandbox mode before starting")
    if not settings.fleet_database_url.startswith(("postgresql", "postgres")):
        raise ConfigError(
            "fleet_database_url must be a PostgreSQL URL (postgresql://user@host:5432/db); "
            "fleet mode coordinates members through PostgreSQL leases"
        )
    name = member_name(settings, options)
    engine = create_engine_for(_with_connect_timeout(settings.fleet_database_url))
    fenced: MemberFenced | None = None
    async with contextlib.AsyncExitStack() as stack:
        stack.callback(engine.dispose)
        await asyncio.to_thread(upgrade, engine)
        leases = LeaseStore(engine, ttl=settings.lease_ttl, grace=settings.lease_grace)
        epochs: dict[str, int] = {}
        store = FencedInstanceStore(leases=leases, member=name, epochs=epochs)
        instance = Instance(
            settings=settings,
            index=options.index,
            instance_id=name,
            token=options.token,
            host_factory=_host_factory(settings, name, provider_url),
            store=store,
        )
        watchdog = Watchdog()
        watchdog.start()
        stack.callback(watchdog.close)
        stack.push_async_callback(instance.aclose)
        url = await stack.enter_async_context(
            serve_async(
                build_app(instance),
                options.host,
                options.port,
                log_level="warning" if settings.log_level != "DEBUG" else "info",
            )
        )
        advertise = settings.advertise_url or url
        instance.set_url(advertise)
        await instance.start()
        await stack.enter_async_context(
            _delivery(settings, central_url, advertise, instance, lambda: frozenset(epochs), store)
        )
        member = FleetMember(
            name=name,
            advertise_url=advertise,
            capacity=settings.max_sessions,
            batch=settings.fleet_claim_batch,
            margin=settings.lease_margin,
            sessions_dir=Path(settings.sessions_dir),
            leases=leases,
            store=store,
            instance=instance,
            snapshots=snapshot_store(settings, leases, cipher=cipher),
            watchdog=watchdog,
            epochs=epochs,
            adopt_concurrency=settings.restore_concurrency,
        )
        if options.token_file is not None:
            write_token_file(options.token_file, options.token)
        # As a desk instance does (app/heap.py); before the ready line, so the pause of
        # its one collection does not come between "ready" and the member's registration.
        await asyncio.to_thread(warm_webhook_build)  # the first QR's webhook: no first runs
        freeze_startup_heap()
        on_ready(url)
        loop = asyncio.create_task(member.run(stop), name="fleet member")
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({loop, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if loop.done():
            exc = loop.exception()
            if isinstance(exc, MemberFenced):
                fenced = exc
            elif exc is not None:
                raise exc
        else:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loop
        log.info("%s leaving the fleet: closing every session, then releasing leases", name)
        await instance.aclose()
        await member.aclose()
    if fenced is not None:
        raise fenced
