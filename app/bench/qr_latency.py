"""qr-latency: from "add account" to a QR the operator can scan.

Three designs, each over the same number of accounts added one after the
other (as an operator adds them), against one sandbox with boot delay 0:

- warm: pairdesk in `context` mode with its warm pool (2 pages), waiting
  between adds until the pool has refilled, as it would between two humans'
  scans;
- cold: pairdesk in `context` mode with the warm pool off: a new context and
  page per account;
- replaced: one persistent Chromium profile launched per account when it is
  added (whatsapp-web.js LocalAuth), see `_baseline.py`.

pairdesk's figure is add call -> `QrIssued` at the supervisor (the console
sees events from there); the replaced design's is add -> QR string in the
host process. The QR's paint in the console is measured by `onboarding`.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from app.bench._baseline import ReplacedDesign
from app.bench._context import BenchContext
from app.bench._engine_run import running_engine
from app.bench._harness import ScenarioResult, ms, summary

NAME = "qr-latency"
SEED_QR_MS = 8000.0  # the seed system: 8.0 s from add to QR (reference review)


async def run(ctx: BenchContext, result: ScenarioResult) -> None:
    n = ctx.options.count(30, 3)
    figures = result.figures
    figures["accounts_per_design"] = n
    with ctx.sandbox() as url:
        figures["warm"] = summary(await _pairdesk(ctx, url, n, warm_pool=2))
        figures["cold"] = summary(await _pairdesk(ctx, url, n, warm_pool=0))
        figures["replaced"] = summary(await _replaced(ctx, url, n))
    figures["seed_system_ms"] = SEED_QR_MS
    warm, cold, replaced = figures["warm"], figures["cold"], figures["replaced"]
    if replaced.get("p50"):
        figures["speedup_p50_warm_vs_replaced"] = round(replaced["p50"] / max(warm["p50"], 0.1), 1)
        figures["speedup_p50_cold_vs_replaced"] = round(replaced["p50"] / max(cold["p50"], 0.1), 1)
    result.row("add -> QR, warm pool p50 / p95", f"{ms(warm)} / {ms(warm, 'p95')}", "p50 < 150 ms")
    result.row("add -> QR, cold context p50 / p95", f"{ms(cold)} / {ms(cold, 'p95')}", "p50 < 1 s")
    result.row(
        "add -> QR, replaced design p50 / p95",
        f"{ms(replaced)} / {ms(replaced, 'p95')}",
        "seed system 8.0 s (real site)",
    )


async def _pairdesk(ctx: BenchContext, url: str, n: int, *, warm_pool: int) -> list[float]:
    name = "qr-warm" if warm_pool else "qr-cold"
    settings = ctx.engine_settings(name, provider_url=url, warm_pool=warm_pool, instances=1)
    samples: list[float] = []
    async with (
        httpx.AsyncClient(base_url=url, timeout=10) as sandbox,
        running_engine(settings) as run,
    ):
        for i in range(n):
            if warm_pool:
                await _pool_ready(sandbox, warm_pool)
            else:
                await asyncio.sleep(0.3)  # let the previous page settle; not counted
            started = time.perf_counter()
            (sid,) = await run.add(1, workspace_id=100 + i)
            qr_at = await run.wait_qr(sid)
            samples.append((qr_at - started) * 1000)
            # Nobody scans: close it so the next add meets the same instance as this one.
            await run.engine.stop_session(sid)
    return samples


async def _pool_ready(sandbox: httpx.AsyncClient, size: int, timeout: float = 30.0) -> None:
    """Wait until the sandbox shows `size` pages waiting with a QR (the pool, refilled)."""
    async with asyncio.timeout(timeout):
        while True:
            stats = (await sandbox.get("sandbox/stats")).json()
            if stats["pages"]["by_state"].get("UNPAIRED", 0) >= size:
                return
            await asyncio.sleep(0.05)


async def _replaced(ctx: BenchContext, url: str, n: int) -> list[float]:
    from playwright.async_api import async_playwright

    samples: list[float] = []
    async with async_playwright() as pw:
        design = ReplacedDesign(
            playwright=pw, chromium_path=ctx.chromium_path, root=ctx.folder("qr-replaced"), url=url
        )
        try:
            for i in range(n):
                session = await design.add(f"bench{i}")
                samples.append(session.add_to_qr_ms)
                await design.close(session)  # as pairdesk's are stopped: same load for each add
        finally:
            await design.aclose()
    return samples
