"""The composition root: the only module that wires layers and services together.

`build_engine(settings)` returns an engine that is not started yet (cheap,
no I/O), so the console can build it on any thread and start it on the
engine's own loop. On `start()` the engine calls back into `_prepare`, which
brings up, in order and owned by the engine's exit stack (so `aclose()`
takes them down again in reverse):

1. sandbox mode (`provider_url` empty): the login simulator in-process, on
   its own thread, on the loopback port it had last time if free (saved
   logins are per origin) else a free one; its URL becomes the instances'
   provider URL;
2. in sandbox mode with `central_url` empty: the reference central API the
   same way, verifying the webhook secret in effect;
3. the store: the database is migrated to the current schema;
4. the launcher that gives every instance those URLs, the database and the
   sessions folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from urllib.parse import urlparse

from app.config import Settings
from app.engine.control.engine import Runtime, SupervisedEngine
from app.engine.control.fleet_engine import FleetEngine
from app.engine.control.store import EngineStore
from app.engine.errors import EngineError
from app.engine.instance import supervised
from app.engine.instance.runner import InstanceOptions, run_instance
from app.engine.instance.scratch import claim_scratch, release_scratch
from app.engine.supervisor.launcher import InstanceLauncher
from app.engine.supervisor.supervisor import SupervisorConfig

__all__ = [
    "InstanceOptions",
    "build_engine",
    "claim_scratch",
    "open_engine",
    "release_scratch",
    "run_instance",
    "supervised",
    "supervisor_config",
]

log = logging.getLogger(__name__)


def supervisor_config(settings: Settings) -> SupervisorConfig:
    return SupervisorConfig(instances=settings.instances, capacity=settings.max_sessions)


def build_engine(settings: Settings, *, config: SupervisorConfig | None = None) -> SupervisedEngine:
    """The real engine for `settings`; call `await engine.start()` on its loop."""

    async def prepare(stack: contextlib.AsyncExitStack) -> Runtime:
        return await _prepare(settings, stack)

    return SupervisedEngine(
        settings=settings,
        prepare=prepare,
        supervisor_config=config or supervisor_config(settings),
    )


def open_engine(settings: Settings) -> SupervisedEngine | FleetEngine:
    """The engine the console and `pairdesk serve` run (see `app.engine.api.Engine`):
    attached to a fleet when `fleet_database_url` is set (docs/FLEET.md), else local."""
    if settings.fleet_database_url:
        return FleetEngine(settings)
    return build_engine(settings)


async def _prepare(settings: Settings, stack: contextlib.AsyncExitStack) -> Runtime:
    provider_url = settings.provider_url
    central_url = settings.central_url
    secret = settings.resolved_webhook_secret()
    if settings.sandbox_mode:
        from app.sandbox import SandboxOptions, SandboxServer

        # Linked devices survive a restart (as the real servers remember them), so
        # saved logins come back without a QR after the console is started again.
        options = SandboxOptions(
            time_scale=settings.time_scale,
            boot_delay=settings.sandbox_boot_delay,
            state_file=str(settings.data_dir / "sandbox-state.json"),
        )
        # Same port as last time when free: saved logins are stored per origin
        # (scheme, host and port), so a new port would make every session ask for a QR.
        port_file = settings.data_dir / "sandbox.port"
        sandbox = SandboxServer(options, host=settings.host, port=_last_port(port_file))
        try:
            provider_url = await asyncio.to_thread(sandbox.start)
        except OSError:
            sandbox = SandboxServer(options, host=settings.host, port=0)
            provider_url = await asyncio.to_thread(sandbox.start)
        stack.push_async_callback(asyncio.to_thread, sandbox.stop)
        _save_port(port_file, provider_url)
        log.info("sandbox mode: login simulator at %s", provider_url)
        if not central_url:
            from app.sandbox.central import CentralServer

            central = CentralServer(secret, host=settings.host)
            central_url = await asyncio.to_thread(central.start)
            stack.push_async_callback(asyncio.to_thread, central.stop)
            log.info("sandbox mode: reference central API at %s", central_url)
    store = await _open_store(settings, stack)
    launcher = InstanceLauncher(
        settings=settings,
        provider_url=provider_url,
        central_url=central_url,
        webhook_secret=secret,
    )
    return Runtime(
        store=store, launcher=launcher, provider_url=provider_url, central_url=central_url
    )


async def _open_store(settings: Settings, stack: contextlib.AsyncExitStack) -> EngineStore:
    from app.store import StoreError, create_engine_for, session_factory, upgrade

    url = settings.effective_database_url
    try:
        db = create_engine_for(url)
        stack.callback(db.dispose)
        await asyncio.to_thread(upgrade, db)
    except StoreError as exc:
        # The store's own message already starts "cannot open the database at ...".
        said = str(exc)
        raise EngineError(
            said if said.startswith("cannot open") else f"cannot open the database: {said}"
        ) from None
    return EngineStore(sessions=session_factory(db))


def _last_port(path: Path) -> int:
    try:
        port = int(path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return 0
    return port if 1024 <= port <= 65535 else 0


def _save_port(path: Path, url: str) -> None:
    port = urlparse(url).port
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{port}\n", encoding="utf-8")
