"""capacity: how many connected sessions this machine holds, and at what cost.

Two instances in `context` mode (the console's default) are ramped in steps
of connected sessions (each scanned by the test phone). After each step the
run idles for a window and samples: the instances' trees' CPU% (100 = one
core; this is "CPU at idle", the cost of keeping sessions alive), each
session's heartbeat round trip (page evaluate, p95), PSS, and the machine's
available memory. The ramp stops at the first limit:
- memory: less than 10% of the machine's memory available;
- cpu: the trees use more than 80% of all cores while idle;
- heartbeat: heartbeat p95 over 1 s;
- cap: the target count (300, or `--sessions`) reached with no limit hit.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import psutil

from app.bench._context import BenchContext
from app.bench._engine_run import EngineRun, running_engine, tree_cpu_percent
from app.bench._harness import ScenarioResult, mib, percentile

NAME = "capacity"
HEARTBEAT_S = 2.0
WINDOW_S = 8.0
HEARTBEAT_LIMIT_MS = 1000.0


async def run(ctx: BenchContext, result: ScenarioResult) -> None:
    from app.sandbox import AsyncTestPhone

    cap = ctx.options.count(300, 2)
    step = max(1, cap // 2) if ctx.options.quick else min(25, cap)
    cores = os.cpu_count() or 1
    window = 3.0 if ctx.options.quick else WINDOW_S
    instances = 2
    with ctx.sandbox() as url:
        settings = ctx.engine_settings(
            "capacity",
            provider_url=url,
            instances=instances,
            warm_pool=0,
            max_sessions=cap // instances + step,
            heartbeat_interval=HEARTBEAT_S,
        )
        steps: list[dict[str, object]] = []
        limit = "cap"
        async with AsyncTestPhone(url) as phone, running_engine(settings) as run:
            idle = await _sample(run, window)  # the empty instances, for reference
            connected = 0
            while connected < cap:
                add = min(step, cap - connected)
                started = time.perf_counter()
                sids = await run.add(add, workspace_id=700)
                await run.connect(sids, phone, 60_000 + connected)
                connected += add
                sample = await _sample(run, window)
                sample.update(sessions=connected, ramp_s=round(time.perf_counter() - started, 1))
                steps.append(sample)
                hit = _limit(sample, cores)
                if hit:
                    limit = hit
                    break
            stats = await phone.stats()
    last: dict[str, Any] = steps[-1]
    result.figures.update(
        sessions_connected=last["sessions"],
        limit=limit,
        cap=cap,
        instances=instances,
        empty=idle,
        steps=steps,
        conflicts=stats["conflicts_total"],
    )
    result.row("connected sessions held", f"{last['sessions']} (stopped by: {limit})", "300")
    result.row("CPU% at idle (100 = one core)", f"{last['cpu_percent_idle']:.0f}%", "")
    result.row("heartbeat p95", f"{last['heartbeat_p95_ms']:.0f} ms", "< 1 s")
    result.row("PSS per session", mib(int(last["pss_per_session_bytes"])), "")


async def _sample(run: EngineRun, window: float) -> dict[str, object]:
    """Idle for a window; CPU, heartbeats, PSS and available memory over it."""
    since = time.perf_counter()
    pids = await run.instance_pids()
    cpu = await asyncio.to_thread(tree_cpu_percent, pids, window)
    beats = [latency for at, latency in run.heartbeats if at >= since]
    pss = await run.pss()
    sessions = sum(1 for t in run.tracks.values() if t.ready_at)
    return {
        "cpu_percent_idle": cpu,
        "heartbeats": len(beats),
        "heartbeat_p50_ms": round(percentile(beats, 50), 1) if beats else 0.0,
        "heartbeat_p95_ms": round(percentile(beats, 95), 1) if beats else 0.0,
        "pss_bytes": pss["pss_bytes"],
        "pss_per_session_bytes": pss["pss_bytes"] // max(1, sessions),
        "available_memory_bytes": psutil.virtual_memory().available,
    }


def _limit(sample: dict[str, object], cores: int) -> str:
    if int(sample["available_memory_bytes"]) < 0.10 * psutil.virtual_memory().total:  # type: ignore[call-overload]
        return "memory"
    if float(sample["cpu_percent_idle"]) > 80.0 * cores:  # type: ignore[arg-type]
        return "cpu"
    if float(sample["heartbeat_p95_ms"]) > HEARTBEAT_LIMIT_MS:  # type: ignore[arg-type]
        return "heartbeat"
    return ""
