"""`pairdesk instance`: one shard instance process (docs/INSTANCE_API.md).

Serves the instance HTTP API (docs/INSTANCE_API.md) and prints
`instance: http://HOST:PORT/` on stdout once it is ready. The bearer token is
the `instance_token` setting (`PAIRDESK_INSTANCE_TOKEN`), or `--token`, else a
random one made for this start; it is never printed: `--token-file` writes it
for the owner (mode 0600). With `--supervised` (how the supervisor starts it)
the token and the webhook secret come on the first line of stdin instead, and
stdin closing means the supervisor died. Every `PAIRDESK_*` variable leaves
the environment once the settings are read (the Playwright driver and Chromium
inherit none). SIGTERM, Ctrl+C or the lifeline's end snapshots and closes
every session, then exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import secrets
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from app.cli import UserError, load_settings
from app.config import Settings

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--index",
        type=int,
        default=None,
        help="shard index of this instance (0, 1, ...); not needed in fleet mode",
    )
    parser.add_argument("--port", type=int, default=0, help="TCP port (default: a free one)")
    parser.add_argument("--host", default=None, help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--isolation", choices=("context", "profile"), default=None)
    parser.add_argument("--max-sessions", dest="max_sessions", type=int, default=None)
    parser.add_argument("--warm-pool", dest="warm_pool", type=int, default=None)
    parser.add_argument("--time-scale", dest="time_scale", type=float, default=None)
    parser.add_argument(
        "--token",
        default=None,
        help="bearer token of the API (visible in the process list: prefer "
        "PAIRDESK_INSTANCE_TOKEN); default: random per start",
    )
    parser.add_argument(
        "--token-file",
        dest="token_file",
        default=None,
        help="write the token in effect to this file (mode 0600) once ready",
    )
    parser.add_argument(
        "--instance-id",
        dest="instance_id",
        default="",
        help="id to register under in the store (default: instance-INDEX)",
    )
    parser.add_argument(
        "--name",
        dest="instance_name",
        default=None,
        help="fleet mode: this member's stable name (setting instance_name; docs/FLEET.md)",
    )
    parser.add_argument(
        "--advertise-url",
        dest="advertise_url",
        default=None,
        help="fleet mode: the URL consoles and peers reach this member at (setting advertise_url)",
    )
    parser.add_argument(
        "--supervised",
        action="store_true",
        help="started by a supervisor: read the secrets from the first line of stdin, "
        "then shut down cleanly when stdin closes (the supervisor died)",
    )


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if level != "DEBUG":
        # One line per webhook and per migration check is noise at INFO.
        for name in ("httpx", "httpcore", "alembic"):
            logging.getLogger(name).setLevel(logging.WARNING)


@contextlib.asynccontextmanager
async def sandbox_stand_ins(settings: Settings) -> AsyncIterator[tuple[str, str]]:
    """(provider_url, central_url) to use, starting in-process stand-ins for sandbox mode.

    Sandbox mode (`provider_url` empty): the login simulator serves on a free
    loopback port of this process, and unless `central_url` is set the
    reference central API does too (webhooks signed with the sandbox secret),
    so a standalone instance shows the whole flow. The supervisor passes its
    own sandbox's URLs, so its instances start nothing of their own.
    """
    if not settings.sandbox_mode:
        yield settings.provider_url, settings.central_url
        return
    from app.sandbox import SandboxOptions, SandboxServer
    from app.sandbox.central import serve_central

    options = SandboxOptions(time_scale=settings.time_scale, boot_delay=settings.sandbox_boot_delay)
    async with SandboxServer(options) as sandbox:
        log.info("sandbox mode: login simulator at %s", sandbox.url)
        if settings.central_url:
            yield sandbox.url, settings.central_url
            return
        async with serve_central(settings.resolved_webhook_secret()) as (central_url, _):
            log.info("sandbox mode: reference central API at %s", central_url)
            yield sandbox.url, central_url


def run(args: argparse.Namespace) -> int:
    from app.bootstrap import InstanceOptions, run_instance

    if args.index is not None and args.index < 0:
        raise UserError(f"--index must be 0 or more, got {args.index}")
    if not 0 <= args.port <= 65535:
        raise UserError(f"--port must be from 0 (any free port) to 65535, got {args.port}")
    from app.bootstrap import claim_scratch, release_scratch, supervised

    secret_flags: dict[str, object] = {"instance_token": args.token}
    if args.supervised:
        # Before anything else: a supervisor that died leaves no secrets line.
        try:
            given = supervised.read_secrets(sys.stdin.buffer)
        except supervised.SupervisedStartError as exc:
            raise UserError(str(exc)) from None
        secret_flags["instance_token"] = given["instance_token"] or None
        if given["webhook_secret"]:
            secret_flags.update(webhook_secret=given["webhook_secret"], webhook_secret_file="")
        supervised.die_with_parent()
    settings = load_settings(
        args,
        host=args.host,
        isolation=args.isolation,
        max_sessions=args.max_sessions,
        warm_pool=args.warm_pool,
        time_scale=args.time_scale,
        **secret_flags,
        instance_name=args.instance_name,
        advertise_url=args.advertise_url,
    )
    if args.index is None and not settings.fleet_database_url:
        raise UserError("--index is required (outside fleet mode: fleet_database_url is not set)")
    cipher = None
    if settings.fleet_database_url:
        from app.fleet.fleet_key import FleetKeyError, read_fleet_key

        try:  # before anything starts: a member without the key could not ship snapshots
            cipher = read_fleet_key(settings.fleet_key_file)
        except FleetKeyError as exc:
            raise UserError(str(exc)) from None
    # Read once: the Playwright driver and Chromium inherit the environment from here on.
    supervised.scrub_environment()
    _configure_logging(settings.log_level)
    from app.logfiles import open_log

    # Its own rotating file too: the console shows it when the in-memory tail is empty.
    open_log(settings, args.instance_id or settings.instance_name or f"instance-{args.index or 0}")
    token = settings.instance_token or secrets.token_urlsafe(32)
    options = InstanceOptions(
        index=args.index or 0,
        host=settings.host,
        port=args.port,
        token=token,
        instance_id=args.instance_id,
        token_file=Path(args.token_file).expanduser() if args.token_file else None,
    )

    def ready(url: str) -> None:
        print(f"instance: {url}", flush=True)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        if args.supervised:
            supervised.watch_lifeline(sys.stdin.buffer, loop, stop.set)
        async with sandbox_stand_ins(settings) as (provider_url, central_url):
            if cipher is not None:
                from app.fleet.runtime import run_member

                await run_member(
                    settings,
                    options,
                    provider_url=provider_url,
                    central_url=central_url,
                    on_ready=ready,
                    stop=stop,
                    cipher=cipher,
                )
                return
            await run_instance(
                settings,
                options,
                provider_url=provider_url,
                central_url=central_url,
                on_ready=ready,
                stop=stop,
            )

    from app.engine.chromium import ChromiumNotFound
    from app.engine.errors import InstanceError
    from app.fleet.member import MemberFenced
    from app.store.errors import StoreError

    scratch = claim_scratch()  # also removes what killed instances left in the temp folder
    try:
        asyncio.run(main())
    except InstanceError as exc:
        raise UserError(exc.message) from None
    except MemberFenced as exc:
        print(f"pairdesk instance: {exc}", file=sys.stderr)
        return 75  # EX_TEMPFAIL: restart me (systemd Restart=on-failure, Kubernetes)
    except (OSError, StoreError, ChromiumNotFound, ValueError) as exc:
        raise UserError(str(exc)) from None
    finally:
        release_scratch(scratch)
    return 0
