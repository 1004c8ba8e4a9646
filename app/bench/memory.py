"""memory: proportional set size per connected session, context vs profile.

PSS (`psutil.memory_full_info().pss`) splits every shared page among the
processes that map it, so summing it over a process tree counts the shared
Chromium binary and libraries once, not once per process as RSS would.

Each design is ramped to the same steps of connected sessions (10 and 50 in
a full run), each session scanned by the test phone and logged in:
- context: one pairdesk instance in `context` mode (warm pool off, so no
  spare pages are counted); its whole tree: Python, Playwright driver,
  Chromium and every renderer;
- profile: one pairdesk instance in `profile` mode (a persistent Chromium
  per session; full run only, it costs minutes);
- replaced: one persistent Chromium profile per session launched by the
  host, as whatsapp-web.js LocalAuth does (`_baseline.py`); its browsers' trees.

Per session = tree PSS / sessions; marginal = (PSS at the top step - PSS at
the first) / the sessions added between, which leaves out fixed costs.
"""

from __future__ import annotations

import asyncio
from typing import Any

from app.bench._baseline import ReplacedDesign, phone_number
from app.bench._context import BenchContext
from app.bench._engine_run import running_engine
from app.bench._harness import ScenarioResult, mib

NAME = "memory"
SETTLE_S = 3.0  # after the last login of a step, before sampling


async def run(ctx: BenchContext, result: ScenarioResult) -> None:
    from app.sandbox import AsyncTestPhone

    if ctx.options.sessions:
        highest = ctx.options.sessions
        steps = (min(10, highest), highest) if highest > 10 else (highest,)
    else:
        steps = (1, 2) if ctx.options.quick else (10, 50)
    figures: dict[str, Any] = result.figures
    figures["steps"] = list(steps)
    with ctx.sandbox() as url:
        async with AsyncTestPhone(url) as phone:
            figures["context"] = await _engine(ctx, url, phone, steps, "context", 0)
            if not ctx.options.quick:
                figures["profile"] = await _engine(ctx, url, phone, steps, "profile", 10_000)
            figures["replaced"] = await _replaced(ctx, url, phone, steps, 20_000)
    context = figures["context"]
    profile = figures.get("profile") or figures["replaced"]
    figures["ratio_basis"] = "profile" if "profile" in figures else "replaced"
    top = str(steps[-1])
    ratio = context[top]["per_session_bytes"] / max(1, profile[top]["per_session_bytes"])
    figures["ratio_context_to_profile"] = round(ratio, 3)
    if len(steps) > 1:
        figures["marginal_ratio"] = round(
            context["marginal_bytes"] / max(1, profile["marginal_bytes"]), 3
        )
    for name in ("context", "profile", "replaced"):
        if name in figures:
            data = figures[name]
            cells = " / ".join(mib(data[str(s)]["per_session_bytes"]) for s in steps)
            extra = f"; marginal {mib(data['marginal_bytes'])}" if len(steps) > 1 else ""
            label = f"PSS per session at {' / '.join(map(str, steps))}, {name}"
            result.row(label, cells + extra, "")
    result.row(
        f"context / {figures['ratio_basis']} at {top}",
        f"{ratio:.0%}",
        "at most 40%",
    )


async def _engine(
    ctx: BenchContext, url: str, phone: Any, steps: tuple[int, ...], isolation: str, first: int
) -> dict[str, Any]:
    settings = ctx.engine_settings(
        f"memory-{isolation}",
        provider_url=url,
        isolation=isolation,
        warm_pool=0,
        instances=1,
        max_sessions=steps[-1] + 5,
    )
    out: dict[str, Any] = {}
    async with running_engine(settings) as run:
        done = 0
        for step in steps:
            sids = await run.add(step - done, workspace_id=300)
            await run.connect(sids, phone, first + done)
            done = step
            await asyncio.sleep(SETTLE_S)
            sample = await run.pss()
            out[str(step)] = {**sample, "per_session_bytes": sample["pss_bytes"] // step}
    _marginal(out, steps)
    return out


async def _replaced(
    ctx: BenchContext, url: str, phone: Any, steps: tuple[int, ...], first: int
) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    out: dict[str, Any] = {}
    async with async_playwright() as pw:
        design = ReplacedDesign(
            playwright=pw, chromium_path=ctx.chromium_path, root=ctx.folder("mem-replaced"), url=url
        )
        try:
            done = 0
            for step in steps:
                for i in range(done, step):
                    session = await design.add(f"m{i}")
                    await design.connect(session, phone, phone_number(first + i))
                done = step
                await asyncio.sleep(SETTLE_S)
                sample = await asyncio.to_thread(design.memory)
                out[str(step)] = {**sample, "per_session_bytes": sample["pss_bytes"] // step}
        finally:
            await design.aclose()
    _marginal(out, steps)
    return out


def _marginal(out: dict[str, Any], steps: tuple[int, ...]) -> None:
    if len(steps) > 1:
        grown = out[str(steps[-1])]["pss_bytes"] - out[str(steps[0])]["pss_bytes"]
        out["marginal_bytes"] = grown // (steps[-1] - steps[0])
