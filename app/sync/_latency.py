"""QR-to-webhook latency of the sync path alone, without browsers (a figure of `pairdesk bench`).

`measure_webhook_latency(n, central_url=..., secret=..., arrivals=...)` runs
a real SQLite store in a scratch folder and an `OutboxDeliverer` with a real
`CentralClient` against a receiver the caller started (the reference central
API; `app.sync` may not import the sandbox, so `app.bench._sync_latency`
starts it), then issues `n` QR events the way an instance records them: the
webhook is built (the QR rendered to a PNG data URL) and written with the
account's QR stamp in one transaction, after which the deliverer is
notified and handed the committed row, as the instance's recorder does.
`arrivals()` tells when the receiver logged each event id. It
reports, in ms:

- `event_to_received`: the QR event's timestamp -> the central API verified
  and logged the webhook (the target: p95 under 50 ms, docs/BENCHMARKS.md);
- `enqueue_to_received`: the outbox commit -> received (delivery alone);
- `render` and `commit`: the two steps before the commit.

Events are paced (`interval`) over several sessions so that no QR is
superseded by its session's next one before delivery; every event is then
measured. The machine's load average is included, since on a busy machine
the figures say more about the machine than about pairdesk.

`pairdesk bench --scenario webhook-latency` measures the whole path with
Chromium and instances; this is the same figure for the sync layer, cheap
enough to run anywhere: `python -m app.bench._sync_latency [n]`.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from app.domain.events import QrIssued
from app.domain.models import AccountSpec
from app.domain.outbox import OutboxItem
from app.store import accounts, create_engine_for, session_factory, upgrade
from app.store import outbox as outbox_repo
from app.sync.client import CentralClient
from app.sync.deliverer import OutboxDeliverer
from app.sync.outbox import SqlOutbox
from app.sync.payloads import outbox_draft

__all__ = ["Arrivals", "measure_webhook_latency", "summary"]

Arrivals = Callable[[], Mapping[str, float]]  # event id -> unix time the receiver logged it


def summary(values: list[float], digits: int = 1) -> dict[str, float | int]:
    """n, p50, p95, min, max and mean (the bench's shape), rounded; {"n": 0} when empty."""
    if not values:
        return {"n": 0}
    ordered = sorted(values)

    def pct(p: float) -> float:
        return statistics.quantiles(ordered, n=100, method="inclusive")[int(p) - 1]

    return {
        "n": len(ordered),
        "p50": round(statistics.median(ordered), digits),
        "p95": round(pct(95) if len(ordered) > 1 else ordered[0], digits),
        "min": round(ordered[0], digits),
        "max": round(ordered[-1], digits),
        "mean": round(statistics.fmean(ordered), digits),
    }


def _qr_string(session_index: int, n: int) -> str:
    # The shape of a real ref: ref,noise key,identity key,adv secret,platform (~200 chars).
    ref = f"2@{secrets.token_urlsafe(66)}{session_index:04d}{n:05d}"
    keys = [secrets.token_urlsafe(32) + "=" for _ in range(3)]
    return ",".join([ref, *keys, "WEB"])


async def measure_webhook_latency(
    n: int = 200,
    *,
    central_url: str,
    secret: str,
    arrivals: Arrivals,
    sessions: int = 20,
    interval: float = 0.02,
    folder: Path | None = None,
    timeout: float = 60.0,
) -> dict[str, Any]:
    """Issue `n` QR events through store and deliverer to `central_url`; figures in ms."""
    if n < 1 or sessions < 1:
        raise ValueError("n and sessions must be 1 or more")
    with tempfile.TemporaryDirectory(prefix="pairdesk-latency-", dir=folder) as scratch:
        engine = create_engine_for(f"sqlite:///{Path(scratch) / 'pairdesk.db'}")
        try:
            await asyncio.to_thread(upgrade, engine)
            factory = session_factory(engine)
            with factory.begin() as session:
                specs = [AccountSpec(workspace_id=1, label=f"latency {i}") for i in range(sessions)]
                made = accounts.create_accounts(session, specs, now=_utc())
            ids = [info.session_id for info in made]
            client = CentralClient(
                central_url=central_url, secret=secret, instance_url="http://latency.invalid"
            )
            outbox = SqlOutbox(sessions=factory)
            deliverer = OutboxDeliverer(store=outbox, client=client)
            issued: dict[str, tuple[float, float]] = {}  # event id -> (event at, committed at)
            render: list[float] = []
            commit: list[float] = []

            def record(event: QrIssued) -> tuple[str, float, list[OutboxItem]]:
                started = time.perf_counter()
                draft = outbox_draft(event)
                rendered = time.perf_counter()
                assert draft is not None
                with factory.begin() as session:
                    accounts.record_qr(
                        session,
                        event.session_id,
                        at=event.at,
                        qr_count=event.qr_count,
                        outbox=[draft],
                    )
                # Stamped here, not after the thread hop: the deliverer may pick
                # the row up before this coroutine resumes.
                committed = time.time()
                render.append((rendered - started) * 1000)
                commit.append((time.perf_counter() - rendered) * 1000)
                return str(draft.event_id), committed, outbox_repo.take_enqueued_heads(session)

            async with client, deliverer:
                for i in range(n):
                    at = _utc()
                    event = QrIssued(
                        session_id=ids[i % sessions],
                        workspace_id=1,
                        qr=_qr_string(i % sessions, i),
                        at=at,
                        expires_at=at + timedelta(seconds=20),
                        qr_count=i // sessions + 1,
                    )
                    event_id, committed, heads = await asyncio.to_thread(record, event)
                    issued[event_id] = (at.timestamp(), committed)
                    deliverer.notify(heads)
                    await asyncio.sleep(interval)
                # Done when every event is accounted for: received, or superseded by a
                # newer QR of its session before it went out (correctly never sent).
                superseded = 0
                try:
                    async with asyncio.timeout(timeout):
                        while True:
                            metrics = await outbox.metrics(_utc())
                            superseded = metrics.superseded
                            got = len(_ours(arrivals(), issued))
                            if metrics.pending == 0 and got + superseded >= n:
                                break
                            await asyncio.sleep(0.05)
                except TimeoutError:
                    status = await deliverer.status()
                    raise TimeoutError(
                        f"only {len(_ours(arrivals(), issued))} of {n} webhooks arrived "
                        f"({superseded} superseded) within {timeout:g} s; outbox: "
                        f"{status.pending} pending, {status.dead} dead, "
                        f"last error: {status.last_error or 'none'}"
                    ) from None
            received = _ours(arrivals(), issued)
        finally:
            engine.dispose()
    to_event = [(at - issued[eid][0]) * 1000 for eid, at in received.items()]
    to_commit = [(at - issued[eid][1]) * 1000 for eid, at in received.items()]
    return {
        "n": n,
        "received": len(received),
        "superseded": superseded,
        "sessions": sessions,
        "event_to_received_ms": summary(to_event),
        "enqueue_to_received_ms": summary(to_commit),
        "render_ms": summary(render),
        "commit_ms": summary(commit),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "cpu_count": os.cpu_count(),
    }


def _ours(arrived: Mapping[str, float], issued: Mapping[str, object]) -> dict[str, float]:
    return {eid: at for eid, at in arrived.items() if eid in issued}


def _utc() -> datetime:
    return datetime.now(UTC)
