"""restore: N connected sessions, stop everything, start again.

The engine (two instances, as the console runs it) brings N sessions to
`connected` through real QR scans, then closes gracefully (every session
snapshotted, every instance and Chromium stopped). A new engine on the same
database and sessions folder is then started, and the clock runs from that
`start()` call until every session is `connected` again. During the
restore no QR may be issued (a QR would mean a lost login) and the sandbox
must count no conflict (two live connections for one account).

After `capacity` in the same run, its connected sessions (N of them, the rest
stopped) and its login simulator are reused instead of connecting N new
ones (`setup` says which); the measured part is the same.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from app.bench._context import BenchContext
from app.bench._engine_run import EngineRun, running_engine
from app.bench._harness import ScenarioResult, guarded, summary
from app.sandbox import AsyncTestPhone

NAME = "restore"
SETUP_STEP = 50  # sessions added and connected at a time before the measured restore
RESTORE_TIMEOUT_S = 600.0


async def run(ctx: BenchContext, result: ScenarioResult) -> None:
    handoff = ctx.handoff.pop(ctx.handoff_key("restore"), None)
    if handoff is not None and handoff["sids"]:
        url = ctx.kept_sandbox("capacity")
        settings, sids = handoff["settings"], list(handoff["sids"])
        setup, setup_s = "capacity's connected sessions", 0.0
        stats, started, up, done, qrs, restored_flag, conflicts_before = await _restore(
            url, settings, sids
        )
    else:
        n = ctx.options.restore_count()
        with ctx.sandbox() as url:
            settings = ctx.engine_settings(
                "restore",
                provider_url=url,
                instances=2,
                warm_pool=0,
                max_sessions=n // 2 + 10,
            )
            setup_started = time.perf_counter()
            async with AsyncTestPhone(url) as phone, running_engine(settings) as run:
                # In steps, as capacity does: 300 pages opened at once on a busy machine
                # wait longer for their first QR than the setup's guard allows.
                sids = []
                while len(sids) < n:
                    step = await run.add(min(SETUP_STEP, n - len(sids)), workspace_id=500)
                    await run.connect(step, phone, 40_000 + len(sids))
                    sids += step
            setup, setup_s = "own", time.perf_counter() - setup_started
            stats, started, up, done, qrs, restored_flag, conflicts_before = await _restore(
                url, settings, sids
            )
    n = len(sids)
    instances = settings.instances
    conflicts = stats["conflicts_total"] - conflicts_before
    total_s = done - started
    result.figures.update(
        sessions=n,
        instances=instances,
        setup=setup,
        setup_s=round(setup_s, 1),
        restore_s=round(total_s, 2),
        restore_after_engine_up_s=round(done - up, 2),
        engine_start_s=round(up - started, 2),
        qr_during_restore=qrs,
        conflicts=conflicts,
        reported_restored=restored_flag,
        sandbox_restores=stats.get("restores", 0),
        disconnects_during_restore=stats["lost_during_restore"],
        each_connected_after_start_ms=stats["each_back_ms"],
        sessions_per_second_after_engine_up=round(n / max(0.001, done - up), 2),
    )
    light = ctx.options.page_weight == "light"
    result.row(
        f"{n} sessions restored (from start)",
        f"{total_s:.1f} s",
        "300 in < 60 s (light)",
        met=(n >= 300 and total_s < 60) if light else None,
    )
    result.row(
        "engine up / then all back",
        f"{up - started:.1f} s / {done - up:.1f} s ({n / max(0.001, done - up):.1f} per s)",
        "",
    )
    result.row("QR codes during restore", str(qrs), "0", met=qrs == 0)
    lost = stats["lost_during_restore"]
    result.row(
        "lost on the way back (by reason) / logins at the simulator",
        f"{sum(lost.values())} {lost or ''} / {stats.get('restores', 0)}".replace("  ", " "),
        f"{n} logins: one each",
    )
    result.row("conflicts", str(conflicts), "0", met=conflicts == 0)


async def _restore(url: str, settings: Any, sids: list[str]) -> tuple[Any, ...]:
    """Start the engine again on the stopped store; time until every one of `sids` is back."""
    async with AsyncTestPhone(url) as phone:
        conflicts_before = (await phone.stats())["conflicts_total"]
        started = time.perf_counter()
        async with running_engine(settings, start_timeout=300) as run:
            up = time.perf_counter()
            try:
                await guarded(_all_connected(run, sids, timeout=RESTORE_TIMEOUT_S))
            except TimeoutError:
                came_back = sum(1 for sid in sids if run.tracks[sid].ready_at)
                raise RuntimeError(
                    f"{came_back} of {len(sids)} sessions back after {RESTORE_TIMEOUT_S:.0f} s; "
                    f"states now {dict(run.states(sids))}; disconnects by reason "
                    f"{dict(run.lost)}; QR codes {len(run.qr_events)}"
                ) from None
            done = time.perf_counter()
            lost = dict(run.lost)
            qrs = len(run.qr_events)
            restored_flag = sum(1 for sid in sids if run.tracks[sid].restored)
            back = [(run.tracks[sid].ready_at - started) * 1000 for sid in sids]
        stats = await phone.stats()
    stats["each_back_ms"] = summary(back, 0)
    stats["lost_during_restore"] = lost
    return stats, started, up, done, qrs, restored_flag, conflicts_before


async def _all_connected(run: EngineRun, sids: list[str], *, timeout: float) -> None:
    """Until every session has reported `connected` since this engine started."""
    async with asyncio.timeout(timeout):
        for sid in sids:
            await run.wait_ready(sid, timeout=timeout)
