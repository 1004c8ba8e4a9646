"""The body of `pairdesk instance`: wire the store, the SessionHost, the HTTP
server and (when configured) webhook delivery, then run until told to stop.

The engine does not depend on the sandbox: `pairdesk instance` (app/cli)
resolves sandbox mode to the URLs of in-process stand-ins and passes them in.

Order matters on the way down: the instance closes first (every session
snapshotted and stopped, its last events recorded, the event streams ended),
then delivery stops (unsent webhooks stay in the outbox), then the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from app.config import Settings
from app.domain.events import EngineEvent
from app.domain.ids import instance_id_for
from app.engine.instance.http_api import build_app
from app.engine.instance.instance import Instance
from app.engine.instance.sessions import SessionHostLike
from app.engine.instance.store import SqlInstanceStore
from app.heap import freeze_startup_heap
from app.permissions import write_private
from app.serving import serve_async
from app.sync.payloads import warm_webhook_build

log = logging.getLogger(__name__)

SHUTDOWN_DELIVERY_SECONDS = 3.0


@dataclass(frozen=True, kw_only=True)
class InstanceOptions:
    """What `pairdesk instance` was asked for, beyond `Settings`."""

    index: int
    host: str = "127.0.0.1"
    port: int = 0
    token: str
    instance_id: str = ""
    token_file: Path | None = None


def write_token_file(path: Path, token: str) -> None:
    """Write the token (a bearer secret) for the owner only (0600), atomically:
    `write_private`, so no file lying beside it can lend the token a wider mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, (token + "\n").encode("utf-8"))


def _host_factory(
    settings: Settings, instance_id: str, provider_url: str
) -> Callable[[Callable[[EngineEvent], None]], SessionHostLike]:
    from app.engine.session.host import SessionHost

    def build(emit: Callable[[EngineEvent], None]) -> SessionHostLike:
        host: SessionHostLike = SessionHost(
            settings=settings, instance_id=instance_id, provider_url=provider_url, emit=emit
        )
        return host

    return build


@contextlib.asynccontextmanager
async def _delivery(
    settings: Settings, central_url: str, instance: Instance, store: SqlInstanceStore
) -> AsyncIterator[None]:
    """Webhook delivery for the sessions this instance runs (docs/SYNC.md).

    Runs when a central API is configured (or sandbox mode gave one); with
    sync off the outbox only fills, and a later start with `central_url`
    delivers it. Only the sessions assigned to this instance are delivered.
    """
    if not central_url:
        yield
        return
    from app.sync.client import CentralClient
    from app.sync.deliverer import OutboxDeliverer
    from app.sync.outbox import SqlOutbox

    client = CentralClient(
        central_url=central_url,
        secret=settings.resolved_webhook_secret(),
        instance_url=instance.url,
        timeout=settings.webhook_timeout,
    )
    deliverer = OutboxDeliverer(
        store=SqlOutbox(sessions=store.sessions),
        client=client,
        session_ids=instance.owned_sessions,
    )
    instance.set_delivery_hook(deliverer.notify)
    await deliverer.start()
    try:
        yield
        await _let_delivery_finish(instance, deliverer.notify)
    finally:
        instance.set_delivery_hook(None)
        await deliverer.aclose()
        await client.aclose()


async def _let_delivery_finish(
    instance: Instance, notify: Callable[[], None], timeout: float = SHUTDOWN_DELIVERY_SECONDS
) -> None:
    """Give the last webhooks (the shutdown's own state changes) a moment to go out."""
    notify()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            while await instance.outbox_pending() > 0:
                await asyncio.sleep(0.1)


async def run_instance(
    settings: Settings,
    options: InstanceOptions,
    *,
    provider_url: str,
    central_url: str,
    on_ready: Callable[[str], None],
    stop: asyncio.Event,
) -> None:
    """Serve one instance until `stop` is set, then shut down cleanly.

    `provider_url` is the login page to drive and `central_url` the webhook
    receiver ("" = sync off); the caller resolves sandbox mode to real URLs.
    """
    if not provider_url:
        raise ValueError("provider_url is empty: resolve sandbox mode before starting")
    instance_id = options.instance_id or instance_id_for(options.index)
    async with contextlib.AsyncExitStack() as stack:
        store = SqlInstanceStore(
            url=settings.effective_database_url,
            pairing_code_webhook=settings.pairing_code_webhook,
        )
        stack.callback(store.close)
        instance = Instance(
            settings=settings,
            index=options.index,
            instance_id=instance_id,
            token=options.token,
            host_factory=_host_factory(settings, instance_id, provider_url),
            store=store,
        )
        # Registered before start so a failed start still closes every browser.
        stack.push_async_callback(instance.aclose)
        url = await stack.enter_async_context(
            serve_async(
                build_app(instance),
                options.host,
                options.port,
                log_level="warning" if settings.log_level != "DEBUG" else "info",
            )
        )
        instance.set_url(url)
        await instance.start()
        await stack.enter_async_context(_delivery(settings, central_url, instance, store))
        if options.token_file is not None:
            write_token_file(options.token_file, options.token)
        # Once up, what start-up built stays out of every later full collection; done
        # before the ready line, so its one collection's pause is not taken after it.
        await asyncio.to_thread(warm_webhook_build)  # the first QR's webhook: no first runs
        frozen = freeze_startup_heap()
        log.debug("%s: %d start-up objects frozen", instance_id, frozen)
        on_ready(url)
        await stop.wait()
        log.info("%s stopping: snapshotting and closing every session", instance_id)
        # While delivery still runs, so the last state changes can go out before exit.
        await instance.aclose()
