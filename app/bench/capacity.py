"""capacity: how many connected sessions this machine holds, and at what cost.

Two instances in `context` mode (the console's default) are ramped in steps
of connected sessions (each scanned by the test phone). After each step the
run idles for a window and samples: the instances' trees' CPU% (100 = one
core; this is "CPU at idle", the cost of keeping sessions alive), each
session's heartbeat round trip (page evaluate, p95), PSS, and the machine's
available memory. The ramp stops at the first limit:
- memory: less than 15% of the machine's memory available, checked twice a
  second *during* each step too (a safety stop: the machine is shared, and
  it must never swap or meet the OOM killer; the step in progress is
  abandoned and its unfinished sessions stopped);
- cpu: the trees use more than 80% of all cores while idle (sampled once
  the step's own work has settled, up to SETTLE_MAX_S: at real weight each
  new page builds its models and its first snapshot is written);
- heartbeat: heartbeat p95 over 1 s over the idle window after a step;
- cap: the target count (300, or `--sessions`) reached with no limit hit.

When `restore` runs after it, capacity stops every session beyond restore's
N and every one not connected, closes gracefully and hands its store over
(`ctx.handoff["restore"]`), so the restore measures these sessions instead of
connecting its own 200 again (several minutes saved on a full run).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from typing import Any

import psutil

from app.bench._context import BenchContext
from app.bench._engine_run import EngineRun, running_engine, tree_cpu_percent
from app.bench._harness import (
    MEMORY_FLOOR,
    MemoryFloor,
    ScenarioResult,
    guarded,
    memory_low,
    mib,
    percentile,
)
from app.bench.verdicts import NEED_AT_WEIGHT

NAME = "capacity"
HEARTBEAT_S = 2.0
WINDOW_S = 8.0
HEARTBEAT_LIMIT_MS = 1000.0
# After a step, a real-weight page builds its models, stores its messages and its
# first snapshot is written: seconds of CPU per session that a held session no longer
# spends. The idle sample waits (up to this long) for that to pass.
SETTLE_MAX_S = 120.0
SETTLE_PROBE_S = 4.0
STOPS_AT_ONCE = 4  # sessions the hand-over to restore stops at a time


async def run(ctx: BenchContext, result: ScenarioResult) -> None:
    from app.sandbox import AsyncTestPhone

    cap = ctx.options.count(300, 2)
    step = max(1, cap // 2) if ctx.options.quick else min(25, cap)
    cores = os.cpu_count() or 1
    window = 3.0 if ctx.options.quick else WINDOW_S
    instances = 2
    kept = "restore" in ctx.options.scenarios  # restore logs these accounts in again
    with contextlib.nullcontext(ctx.kept_sandbox("capacity")) if kept else ctx.sandbox() as url:
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
                if why := memory_low():
                    limit, stop_reason = "memory", why
                    break
                add = min(step, cap - connected)
                started = time.perf_counter()
                sids = await run.add(add, workspace_id=700)
                try:
                    await guarded(run.connect(sids, phone, 60_000 + connected))
                except MemoryFloor as exc:
                    limit, stop_reason = "memory", str(exc)
                    break
                connected += add
                settle_s = await _settle(run, cores)
                sample = await _sample(run, window)
                if _limit(sample, cores) in ("cpu", "heartbeat"):
                    # A lull in the step's own work passed for settled: the pages
                    # are still storing their messages and first snapshots. Once more.
                    settle_s += await _settle(run, cores) + window
                    sample = await _sample(run, window)
                sample.update(
                    sessions=connected,
                    ramp_s=round(time.perf_counter() - started, 1),
                    settle_s=settle_s,
                )
                steps.append(sample)
                hit = _limit(sample, cores)
                if hit:
                    limit, stop_reason = hit, f"{hit} limit after {connected} sessions"
                    break
            else:
                stop_reason = f"reached the cap of {cap}"
            held = [sid for sid, t in run.tracks.items() if t.ready_at]
            await _hand_over(ctx, run, settings, held)
            stats = await phone.stats()
    if not steps:
        raise RuntimeError(f"not one step completed: {stop_reason}")
    last: dict[str, Any] = steps[-1]
    result.figures.update(
        sessions_connected=last["sessions"],
        limit=limit,
        stop_reason=stop_reason,
        memory_floor=MEMORY_FLOOR,
        cap=cap,
        instances=instances,
        empty=idle,
        steps=steps,
        conflicts=stats["conflicts_total"],
    )
    need = NEED_AT_WEIGHT.get(ctx.options.page_weight, NEED_AT_WEIGHT["light"])
    result.row(
        "connected sessions held",
        f"{last['sessions']} (stopped by: {limit})",
        f"{need} ({ctx.options.page_weight} pages)",
        met=last["sessions"] >= need,
    )
    result.row("CPU% at idle (100 = one core)", f"{last['cpu_percent_idle']:.0f}%", "")
    result.row(
        "heartbeat p95",
        f"{last['heartbeat_p95_ms']:.0f} ms",
        "< 1 s",
        met=last["heartbeat_p95_ms"] < 1000,
    )
    result.row("PSS per session", mib(int(last["pss_per_session_bytes"])), "")
    result.row("settling after the last step", f"{last['settle_s']:.0f} s", "")


async def _settle(run: EngineRun, cores: int) -> float:
    """Seconds until the instances' CPU falls under the idle limit (the step's own
    work done), at most SETTLE_MAX_S; the sample after it is then the held cost."""
    started = time.perf_counter()
    while time.perf_counter() - started < SETTLE_MAX_S:
        pids = await run.instance_pids()
        cpu = await asyncio.to_thread(tree_cpu_percent, pids, SETTLE_PROBE_S)
        if cpu <= 80.0 * cores:
            break
    return round(time.perf_counter() - started, 1)


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


async def _hand_over(ctx: BenchContext, run: EngineRun, settings: Any, held: list[str]) -> None:
    """Stop what is not connected (a step cut short); leave restore exactly its N
    connected sessions, the rest stopped (they stay stopped across the restart)."""
    restore_next = "restore" in ctx.options.scenarios
    keep = set(held[: ctx.options.restore_count()] if restore_next else held)
    # A few at a time: each stop snapshots the page (1-2 s of CPU at real weight), and
    # 70 asked at once of instances at the memory floor outran the engine's call timeout.
    stopping = asyncio.Semaphore(STOPS_AT_ONCE)

    async def stop(sid: str) -> None:
        async with stopping:
            await run.engine.stop_session(sid)

    async with asyncio.TaskGroup() as group:
        for sid in list(run.tracks):
            if sid and sid not in keep:
                group.create_task(stop(sid))
    if restore_next:
        ctx.handoff[ctx.handoff_key("restore")] = {
            "settings": settings,
            "sids": [s for s in held if s in keep],
        }


def _limit(sample: dict[str, object], cores: int) -> str:
    if int(sample["available_memory_bytes"]) < MEMORY_FLOOR * psutil.virtual_memory().total:  # type: ignore[call-overload]
        return "memory"
    if float(sample["cpu_percent_idle"]) > 80.0 * cores:  # type: ignore[arg-type]
        return "cpu"
    if float(sample["heartbeat_p95_ms"]) > HEARTBEAT_LIMIT_MS:  # type: ignore[arg-type]
        return "heartbeat"
    return ""
