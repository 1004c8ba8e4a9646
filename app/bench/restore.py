"""restore: N connected sessions, stop everything, start again.

The engine (two instances, as the console runs it) brings N sessions to
`connected` through real QR scans, then closes gracefully (every session
snapshotted, every instance and Chromium stopped). A new engine on the same
database and sessions folder is then started, and the clock runs from that
`start()` call until every session is `connected` again. During the
restore no QR may be issued (a QR would mean a lost login) and the sandbox
must count no conflict (two live connections for one account).
"""

from __future__ import annotations

import asyncio
import time

from app.bench._context import BenchContext
from app.bench._engine_run import EngineRun, running_engine
from app.bench._harness import ScenarioResult

NAME = "restore"


async def run(ctx: BenchContext, result: ScenarioResult) -> None:
    from app.sandbox import AsyncTestPhone

    n = ctx.options.count(200, 2)
    instances = 2
    with ctx.sandbox() as url:
        settings = ctx.engine_settings(
            "restore",
            provider_url=url,
            instances=instances,
            warm_pool=0,
            max_sessions=n // instances + 10,
        )
        async with AsyncTestPhone(url) as phone:
            setup_started = time.perf_counter()
            async with running_engine(settings) as run:
                sids = await run.add(n, workspace_id=500)
                await run.connect(sids, phone, 40_000)
            setup_s = time.perf_counter() - setup_started
            conflicts_before = (await phone.stats())["conflicts_total"]
            started = time.perf_counter()
            async with running_engine(settings, start_timeout=300) as run:
                up = time.perf_counter()
                await _all_connected(run, sids, timeout=600)
                done = time.perf_counter()
                qrs = len(run.qr_events)
                restored_flag = sum(1 for sid in sids if run.tracks[sid].restored)
            stats = await phone.stats()
    conflicts = stats["conflicts_total"] - conflicts_before
    total_s = done - started
    result.figures.update(
        sessions=n,
        instances=instances,
        setup_s=round(setup_s, 1),
        restore_s=round(total_s, 2),
        restore_after_engine_up_s=round(done - up, 2),
        engine_start_s=round(up - started, 2),
        qr_during_restore=qrs,
        conflicts=conflicts,
        reported_restored=restored_flag,
        sandbox_restores=stats.get("restores", 0),
    )
    result.row(f"{n} sessions restored (from start)", f"{total_s:.1f} s", "200 in < 60 s")
    result.row("QR codes during restore", str(qrs), "0")
    result.row("conflicts", str(conflicts), "0")


async def _all_connected(run: EngineRun, sids: list[str], *, timeout: float) -> None:
    """Until every session has reported `connected` since this engine started."""
    async with asyncio.timeout(timeout):
        for sid in sids:
            await run.wait_ready(sid, timeout=timeout)
