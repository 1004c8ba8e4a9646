"""webhook-latency: a QR issued on an instance -> its `qr_code_generated`
webhook received and verified (HMAC, timestamp) by the reference central API.

The real path end to end: the Chromium page's ref reaches the instance, the
instance records the QR and its outbox row in one transaction, its deliverer
signs and posts it, the central API (in its own process, as the platform
would be, so it does not compete with the bench for an interpreter lock)
checks the signature and logs it. The sandbox runs at a small time scale so
refs rotate every 3 s and a few QR events a second flow over a dozen
sessions (a busy onboarding desk, not a storm: a storm measures the queue,
not the path); sessions whose page ran out of refs are replaced by new ones
until enough events were measured. The warm pool is off so each QR's issue
time is the moment its ref arrived. Both ends stamp wall-clock time on this
machine, so the difference is the latency. QRs a newer one superseded
before delivery are dropped by design (docs/SYNC.md) and counted,
not measured.

The same figure for the sync layer alone (no browser, no instance:
`_sync_latency`) is measured right after, so the two can be told apart.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from app.bench._context import BenchContext
from app.bench._engine_run import EngineRun, running_engine
from app.bench._harness import ScenarioResult, ms, summary
from app.bench._sync_latency import central_document, central_process, measure_webhook_latency

NAME = "webhook-latency"
SEED_WEBHOOK_MS = 2400.0  # the seed system: 2.4 s from QR to webhook delivered
TIME_SCALE = 0.15  # first ref 9 s, then 3 s each: a few QRs a second in all
SESSIONS = 12
MORE_AFTER_S = 4.0  # no new QR for this long: the pages ran out of refs, add sessions


async def run(ctx: BenchContext, result: ScenarioResult) -> None:
    wanted = 30 if ctx.options.quick else 200
    sessions = 6 if ctx.options.quick else SESSIONS
    with ctx.sandbox(time_scale=TIME_SCALE) as url:
        async with central_process(ctx.secret) as central_url:
            settings = ctx.engine_settings(
                "webhook",
                provider_url=url,
                central_url=central_url,
                warm_pool=0,
                time_scale=TIME_SCALE,
                instances=1,
                max_sessions=200,
            )
            with httpx.Client(timeout=10) as http:
                async with running_engine(settings) as run:
                    flow = await _flow(run, http, central_url, sessions, wanted)
                document = await asyncio.to_thread(central_document, http, central_url)
    issued = flow["issued"]
    at = {(e.session_id, e.qr_count): e.at.timestamp() for e in issued}
    samples = []
    for entry in document["data"]:
        key = (entry["session_id"], int(entry["data"].get("qr_count", -1)))
        if key in at and not entry["duplicate"]:
            samples.append((float(entry["received_at"]) - at[key]) * 1000)
    stats = summary(samples)
    # The same QRs' trip to the supervisor (instance -> event stream): a slow instance loop
    # shows here too, a slow webhook path (store, render, sign, post) does not.
    to_supervisor = summary(
        [(flow["arrived"][k] - at[k]) * 1000 for k in at if k in flow["arrived"]]
    )
    rejected = len(document["rejected"])
    sync_n = 30 if ctx.options.quick else 200
    sync_only = await measure_webhook_latency(sync_n)
    sync_stats = sync_only["event_to_received_ms"]
    figures = result.figures
    figures.update(
        sessions=flow["sessions"],
        qr_per_second=flow["rate"],
        qr_issued=len(issued),
        webhooks_received=len(document["data"]),
        webhooks_matched=len(samples),
        superseded_not_delivered=max(0, len(issued) - len(samples)),
        rejected_by_central=rejected,
        latency_ms=stats,
        latency_samples_ms=[round(x, 2) for x in samples],  # to pool runs
        issued_to_supervisor_ms=to_supervisor,
        sync_only=sync_only,
        seed_system_ms=SEED_WEBHOOK_MS,
    )
    result.row(
        "QR -> webhook verified p50 / p95",
        f"{ms(stats)} / {ms(stats, 'p95')}",
        "p95 < 50 ms; seed system 2.4 s",
        met=bool(stats.get("n")) and stats.get("p95", 1e9) < 50,
    )
    result.row(
        "same QRs -> event at the supervisor p50 / p95",
        f"{ms(to_supervisor)} / {ms(to_supervisor, 'p95')}",
        "the instance's event path, for comparison",
    )
    result.row(
        "events measured / issued",
        f"{len(samples)} / {len(issued)}",
        ">= 200 (full run)",
        met=len(samples) >= 200,
    )
    result.row("rejected by the central API", str(rejected), "0", met=rejected == 0)
    result.row(
        f"sync path alone p50 / p95 ({sync_stats.get('n', 0)} events)",
        f"{ms(sync_stats)} / {ms(sync_stats, 'p95')}",
        "no browser, no instance",
    )


async def _flow(
    run: EngineRun, http: httpx.Client, central_url: str, sessions: int, wanted: int
) -> dict[str, Any]:
    """Let QRs flow until `wanted` of them were received, then stop every session."""
    await run.add(sessions)
    total = sessions
    started = time.monotonic()
    last_count, last_new = 0, time.monotonic()
    seen, received = 0, 0  # the API's log read so far (its last seq), first deliveries in it
    async with asyncio.timeout(300):
        while True:
            await asyncio.sleep(1.0)
            document = await asyncio.to_thread(central_document, http, central_url, since=seen)
            if document["data"]:
                seen = max(int(e["seq"]) for e in document["data"])
            received += sum(1 for e in document["data"] if not e["duplicate"])
            if received >= wanted:
                break
            if len(run.qr_events) > last_count:
                last_count, last_new = len(run.qr_events), time.monotonic()
            elif time.monotonic() - last_new > MORE_AFTER_S and total < 200:
                await run.add(sessions, workspace_id=8)
                total += sessions
                last_new = time.monotonic()
    rate = len(run.qr_events) / max(0.001, time.monotonic() - started)
    for sid in list(run.tracks):
        await run.engine.stop_session(sid)
    await asyncio.sleep(1.0)  # the deliverer finishes what is still current
    return {
        "issued": list(run.qr_events),
        "arrived": dict(run.qr_arrived),
        "rate": round(rate, 2),
        "sessions": total,
    }
