"""`pairdesk sync`: the central API delivery, seen and fixed from a terminal.

- `status` (the default): the outbox as stored (pending, oldest pending
  age, delivered, dead with each refusal, last error); needs no running
  engine. Exit 1 while dead events wait for an operator.
- `retry-dead [--event-id ID ...]`: dead events back to pending (a running
  instance sends them within seconds), except those a newer event of their
  session overtook, which would regress the platform (see the store's
  `retry_dead`).
- `test`: one signed request to the webhook URL, and what its answer means
  (`app.sync.probe`). Exit 1 when the check fails.
- `reconcile`: the platform's active accounts against pairdesk's, once.

Exit 2 when the configuration does not allow the check (sync off, no
secret, an unusable database). The webhook secret is never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import httpx
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from app.cli import UserError, load_settings
from app.config import Settings
from app.domain.models import SessionInfo
from app.domain.outbox import OutboxItem, OutboxState
from app.redaction import redact_url
from app.sync.signing import Secret

DEAD_SHOWN = 10
ANSWER_SHOWN = 100
SANDBOX_CENTRAL = "http://embedded-reference-central"
SYNC_OFF = (
    "sync is off: central_url is not set and provider_url is not the sandbox, so no "
    "webhooks are sent (events wait in the outbox). Set central_url and webhook_secret "
    "(or webhook_secret_file) in pairdesk.toml or as PAIRDESK_CENTRAL_URL / "
    "PAIRDESK_WEBHOOK_SECRET to turn it on"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.add_parser("status", help="outbox counts, dead events and the last error (default)")
    retry = actions.add_parser("retry-dead", help="send dead events again after fixing the cause")
    retry.add_argument(
        "--event-id",
        dest="event_ids",
        action="append",
        metavar="ID",
        help="only this event (repeatable); default: every dead event",
    )
    actions.add_parser("test", help="send a signed test request and explain the answer")
    actions.add_parser("reconcile", help="compare the platform's active accounts with pairdesk's")


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    action = args.action or "status"
    if action == "retry-dead":
        return retry_dead(settings, _event_ids(args.event_ids or []), sys.stdout)
    if action == "test":
        return asyncio.run(sync_test(settings, sys.stdout))
    if action == "reconcile":
        return asyncio.run(sync_reconcile(settings, sys.stdout))
    return status(settings, sys.stdout)


# ------------------------------------------------------------------ target


def target(settings: Settings) -> tuple[str, str]:
    """("platform", url); ("sandbox", "") for the engine's embedded API; or ("off", "")."""
    if settings.central_url:
        return "platform", settings.central_url.rstrip("/")
    return ("sandbox", "") if settings.sandbox_mode else ("off", "")


def _describe_target(settings: Settings) -> str:
    mode, url = target(settings)
    if mode == "platform":
        return f"on, to {redact_url(url)}"
    if mode == "sandbox":
        return "sandbox: to the reference central API the engine starts (no central_url set)"
    return SYNC_OFF


def _secret(settings: Settings) -> Secret:
    try:
        return Secret(settings.resolved_webhook_secret())
    except ValueError:
        raise UserError(
            "no webhook secret: set webhook_secret or webhook_secret_file (the secret the "
            "platform verifies webhooks with)"
        ) from None


# ------------------------------------------------------------------ store


@contextlib.contextmanager
def _store(settings: Settings) -> Iterator[sessionmaker[Session] | None]:
    """Sessions on the configured database; None when its SQLite file does not exist yet."""
    from app.store import StoreError, create_engine_for, session_factory, upgrade

    url = settings.effective_database_url
    if make_url(url).get_backend_name() == "sqlite":
        path = make_url(url).database
        if path and path != ":memory:" and not Path(path).expanduser().exists():
            yield None
            return
    try:
        engine = create_engine_for(url)
        upgrade(engine)
    except StoreError as exc:
        # The store's own message already starts "cannot open the database at ...".
        said = str(exc)
        raise UserError(
            said if said.startswith("cannot open") else f"cannot open the database: {said}"
        ) from None
    try:
        yield session_factory(engine)
    finally:
        engine.dispose()


def _database(settings: Settings) -> str:
    from app.store.errors import redact_url

    return redact_url(settings.effective_database_url)


# ----------------------------------------------------------------- status


def status(settings: Settings, out: TextIO, *, now: datetime | None = None) -> int:
    """Print the outbox's health; 1 while dead events wait for an operator."""
    from app.store import outbox

    now = now or datetime.now(UTC)
    print(f"sync        {_describe_target(settings)}", file=out)
    print(f"database    {_database(settings)}", file=out)
    with _store(settings) as sessions:
        if sessions is None:
            print("outbox      empty: no database yet (pairdesk has not run here)", file=out)
            return 0
        with sessions() as session:
            metrics = outbox.metrics(session, now)
            dead = outbox.list_dead(session, limit=DEAD_SHOWN)
    age = f", oldest {_age(metrics.oldest_pending_age)} old" if metrics.pending else ""
    print(f"pending     {metrics.pending}{age}", file=out)
    print(f"delivered   {metrics.delivered}", file=out)
    print(f"dead        {metrics.dead}", file=out)
    print(f"superseded  {metrics.superseded} (stale QR codes and overtaken events)", file=out)
    if metrics.last_error:
        when = (
            metrics.last_error_at.strftime(" %Y-%m-%d %H:%M:%S UTC")
            if metrics.last_error_at
            else ""
        )
        shown = _hide_url(settings, metrics.last_error)
        print(f"last error {when}: {_clip(shown, 160)}", file=out)
    if not metrics.dead:
        return 0
    print(
        "\ndead events (the central API refused them; fix the cause, then run "
        "`pairdesk sync retry-dead`):",
        file=out,
    )
    for item in dead:
        _print_item(replace(item, last_error=_hide_url(settings, item.last_error)), out)
    if metrics.dead > len(dead):
        print(f"  ... and {metrics.dead - len(dead)} more", file=out)
    return 1


def _hide_url(settings: Settings, text: str) -> str:
    """`text` with the raw central_url redacted (errors stored by older versions held it)."""
    raw = settings.central_url.rstrip("/")
    return text.replace(raw, redact_url(raw)) if raw and text else text


def _print_item(item: OutboxItem, out: TextIO, *, answer: bool = True) -> None:
    http = f"HTTP {item.last_status}" if item.last_status is not None else "no answer"
    print(f"  {item.event_id}  {item.session_id}  {item.name}  {http}", file=out)
    if answer and item.last_error:
        print(f"      {_clip(_answer_start(item.last_error), ANSWER_SHOWN)}", file=out)


def _answer_start(error: str) -> str:
    """The answer itself: the stored error without its leading `HTTP nnn: `."""
    head, sep, rest = error.partition(": ")
    return rest if sep and head.startswith("HTTP ") else error


def _age(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


# -------------------------------------------------------------- retry-dead


def _event_ids(values: Sequence[str]) -> list[uuid.UUID]:
    ids = []
    for value in values:
        try:
            ids.append(uuid.UUID(value))
        except ValueError:
            raise UserError(
                f"--event-id {value!r} is not an event id; copy one from `pairdesk sync status`"
            ) from None
    return ids


def retry_dead(settings: Settings, event_ids: Sequence[uuid.UUID], out: TextIO) -> int:
    """Requeue dead events (all, or those named); 1 when a named one was not dead."""
    from app.store import outbox

    with _store(settings) as sessions:
        if sessions is None:
            print("no database yet, so no dead events; nothing to retry", file=out)
            return 1 if event_ids else 0
        with sessions.begin() as session:
            dead = outbox.list_dead(session, limit=1_000_000)
            chosen = [d for d in dead if not event_ids or d.event_id in set(event_ids)]
            moved = outbox.retry_dead(
                session, now=datetime.now(UTC), event_ids=list(event_ids) if event_ids else None
            )
            after = [outbox.get(session, d.event_id) for d in chosen]
    skipped = [a for a in after if a is not None and a.state is OutboxState.SUPERSEDED]
    unknown = sorted(set(event_ids) - {d.event_id for d in dead})
    if not chosen and not unknown:
        print("no dead events; nothing to retry", file=out)
        return 0
    if moved:
        mode, _ = target(settings)
        when = (
            "a running instance sends them within a few seconds"
            if mode != "off"
            else "they are sent once sync is on (central_url set)"
        )
        print(f"moved {moved} dead event(s) back to pending; {when}", file=out)
    if skipped:
        print(
            f"not retried, {len(skipped)}: a newer event for the session was already "
            "delivered or is queued, so the old one would put the platform's state back:",
            file=out,
        )
        for item in skipped:
            _print_item(item, out, answer=False)
    for event_id in unknown:
        print(f"no dead event {event_id} (unknown, or not dead any more)", file=out)
    return 1 if unknown else 0


# ------------------------------------------------------------------- test


async def sync_test(
    settings: Settings,
    out: TextIO,
    *,
    clock: Callable[[], float] = time.time,
    transport: httpx.AsyncBaseTransport | None = None,
) -> int:
    """Probe the webhook URL with a signed request; 0 when signature and clock pass."""
    from app.sync.probe import probe_webhook

    mode, url = target(settings)
    if mode == "off":
        raise UserError(SYNC_OFF)
    secret = _secret(settings)
    if mode == "sandbox":
        from app.sandbox.central import create_central_app

        print(
            "sandbox mode: no central_url is set, so webhooks go to the reference central "
            "API the engine starts; testing against an in-process copy of it",
            file=out,
        )
        url = SANDBOX_CENTRAL
        app = create_central_app(settings.resolved_webhook_secret())
        transport = transport or httpx.ASGITransport(app=app)
    print(f"central API {redact_url(url)}", file=out)
    verdict = await probe_webhook(
        central_url=url,
        secret=secret,
        timeout=settings.webhook_timeout,
        transport=transport,
        clock=clock,
    )
    print(f"{'ok  ' if verdict.ok else 'FAIL'}  {verdict.headline}", file=out)
    for line in verdict.details:
        print(f"      {_clip(line, 300)}", file=out)
    return 0 if verdict.ok else 1


# -------------------------------------------------------------- reconcile


async def sync_reconcile(
    settings: Settings,
    out: TextIO,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> int:
    """Print the reconcile report once; 0 when in step, 1 on differences or a failed pull."""
    from app.domain.events import ReconcileReport
    from app.store import accounts
    from app.sync.client import CentralApiError, CentralClient
    from app.sync.reconcile import compare, describe

    mode, url = target(settings)
    if mode == "off":
        raise UserError(SYNC_OFF)
    if mode == "sandbox":
        raise UserError(
            "sandbox mode: the reference central API lives inside the running engine, which "
            "reconciles by itself; set central_url to reconcile against a platform"
        )
    _secret(settings)
    print(f"central API {redact_url(url)}", file=out)
    with _store(settings) as sessions:
        if sessions is None:
            local: list[SessionInfo] = []
        else:
            with sessions() as session:
                local = accounts.list_accounts(session)
    async with CentralClient.from_settings(
        settings, instance_url="", transport=transport
    ) as client:
        try:
            report = compare(await client.active_accounts(), local)
        except CentralApiError as exc:
            report = ReconcileReport(error=f"the platform's active-account list: {exc}")
    for line in describe(report):
        print(line, file=out)
    return 0 if report.in_step else 1
