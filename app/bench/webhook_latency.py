"""webhook-latency: a QR issued on an instance -> its `qr_code_generated`
webhook received and verified (HMAC, timestamp) by the reference central API.

The real path end to end: the instance records the QR and its outbox row in
one transaction, the deliverer signs and posts it, the central API checks the
signature and logs it. The sandbox runs at a small time scale so refs rotate
every 3 s and a few QR events a second flow (a busy onboarding desk, not a
storm: a storm measures the queue, not the path);
the warm pool is off so each QR's issue time is the moment its ref arrived.
Both ends stamp wall-clock time on this machine, so the difference is the
latency. QRs a newer one superseded before delivery are dropped by design
(DESIGN.md section 5) and counted, not measured.
"""

from __future__ import annotations

import asyncio
import time

from app.bench._context import BenchContext
from app.bench._engine_run import running_engine
from app.bench._harness import ScenarioResult, ms, summary

NAME = "webhook-latency"
SEED_WEBHOOK_MS = 2400.0  # the seed system: 2.4 s from QR to webhook delivered
TIME_SCALE = 0.15  # first ref 9 s, then 3 s each: a few QRs a second in all


async def run(ctx: BenchContext, result: ScenarioResult) -> None:
    wanted = 30 if ctx.options.quick else 240
    sessions = ctx.options.count(12, 6)
    with ctx.sandbox(time_scale=TIME_SCALE) as url, ctx.central() as (central_url, central):
        settings = ctx.engine_settings(
            "webhook",
            provider_url=url,
            central_url=central_url,
            warm_pool=0,
            time_scale=TIME_SCALE,
            instances=1,
        )
        async with running_engine(settings) as run:
            await run.add(sessions)
            flow_started = time.monotonic()
            async with asyncio.timeout(240):
                while len(run.qr_events) < wanted:
                    await asyncio.sleep(0.2)
            for sid in list(run.tracks):
                await run.engine.stop_session(sid)
            issued = list(run.qr_events)
            rate = len(issued) / max(0.001, time.monotonic() - flow_started)
            # Let the deliverer finish what is still current.
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                received = central.events(event="qr_code_generated")
                if len(received) >= len(issued):
                    break
                await asyncio.sleep(0.2)
        received = central.events(event="qr_code_generated")
        rejected = len(central.rejections())
    at = {(e.session_id, e.qr_count): e.at.timestamp() for e in issued}
    samples = []
    for entry in received:
        key = (entry.session_id, int(entry.data.get("qr_count", -1)))
        if key in at and not entry.duplicate:
            samples.append((entry.received_at - at[key]) * 1000)
    stats = summary(samples)
    figures = result.figures
    figures.update(
        sessions=sessions,
        qr_per_second=round(rate, 2),
        qr_issued=len(issued),
        webhooks_received=len(received),
        webhooks_matched=len(samples),
        superseded_not_delivered=max(0, len(issued) - len(samples)),
        rejected_by_central=rejected,
        latency_ms=stats,
        seed_system_ms=SEED_WEBHOOK_MS,
    )
    result.row(
        "QR -> webhook verified p50 / p95",
        f"{ms(stats)} / {ms(stats, 'p95')}",
        "p95 < 50 ms; seed system 2.4 s",
    )
    result.row("events measured / issued", f"{len(samples)} / {len(issued)}", ">= 200 (full run)")
    result.row("rejected by the central API", str(rejected), "0")
