"""memory: proportional set size per connected session, context vs one browser per session.

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
The target (context at most 40% of one browser per session) is judged
against `replaced`; `profile` is printed beside it.

Safety stop: a design's ramp stops (and says so in `stopped_by`) when the
machine's available memory falls under 15% (`_harness.guarded`); its
figures are then those of the last complete step. The replaced design's
browsers are launched two at a time (about one per core, as pairdesk's
admission limit does).
"""

from __future__ import annotations

import asyncio
from typing import Any

from app.bench._baseline import ReplacedDesign, phone_number
from app.bench._context import BenchContext
from app.bench._engine_run import running_engine
from app.bench._harness import MemoryFloor, ScenarioResult, guarded, memory_low, mib

NAME = "memory"
SETTLE_S = 3.0  # after the last login of a step, before sampling


async def run(ctx: BenchContext, result: ScenarioResult) -> None:
    from app.sandbox import AsyncTestPhone

    if ctx.options.quick:
        steps: tuple[int, ...] = (1, 2)
    else:
        highest = min(50, ctx.options.sessions or 50)  # --sessions only lowers the top step
        steps = (10, highest) if highest > 10 else (highest,)
    figures: dict[str, Any] = result.figures
    figures["steps"] = list(steps)
    with ctx.sandbox() as url:
        async with AsyncTestPhone(url) as phone:
            figures["context"] = await _engine(ctx, url, phone, steps, "context", 0)
            if not ctx.options.quick:
                figures["profile"] = await _engine(ctx, url, phone, steps, "profile", 10_000)
            figures["replaced"] = await _replaced(ctx, url, phone, steps, 20_000)
    context = figures["context"]
    # The target compares with one browser per session as the replaced system runs it
    # (a full Chromium per session); pairdesk's own profile mode (the same design in
    # the headless shell, with the engine's flags) is shown beside it.
    bases = [b for b in ("replaced", "profile") if b in figures]
    done = [s for s in steps if str(s) in context and str(s) in figures[bases[0]]]
    if not done:
        raise RuntimeError(f"no step completed for both designs: {figures}")
    top = str(done[-1])
    basis = bases[0]
    figures["ratio_basis"] = basis
    for other in bases:
        if top in figures[other]:
            figures[f"ratio_context_to_{other}"] = round(
                context[top]["per_session_bytes"]
                / max(1, figures[other][top]["per_session_bytes"]),
                3,
            )
        if "marginal_bytes" in context and "marginal_bytes" in figures[other]:
            figures[f"marginal_ratio_to_{other}"] = round(
                context["marginal_bytes"] / max(1, figures[other]["marginal_bytes"]), 3
            )
    for name in ("context", "profile", "replaced"):
        if name in figures:
            data = figures[name]
            cells = " / ".join(
                mib(data[str(s)]["per_session_bytes"]) if str(s) in data else "stopped"
                for s in steps
            )
            extra = f"; marginal {mib(data['marginal_bytes'])}" if "marginal_bytes" in data else ""
            if data.get("stopped_by"):
                extra += " (memory floor)"
            label = f"PSS per session at {' / '.join(map(str, steps))}, {name}"
            result.row(label, cells + extra, "")
    for other in bases:
        key = f"ratio_context_to_{other}"
        if key in figures:
            ratio = figures[key]
            target = other == basis
            result.row(
                f"context / {other} per session at {top}",
                f"{ratio:.0%}",
                "at most 40%" if target else "",
                met=ratio <= 0.40 if target else None,
            )
        marginal = figures.get(f"marginal_ratio_to_{other}")
        if marginal is not None:
            result.row(
                f"context / {other} marginal ({steps[0]} -> {steps[-1]})",
                f"{marginal:.0%}",
                "at most 40%" if other == basis else "",
                met=marginal <= 0.40 if other == basis else None,
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
            if why := memory_low():
                out["stopped_by"] = why
                break
            try:
                sids = await run.add(step - done, workspace_id=300)
                await guarded(run.connect(sids, phone, first + done))
            except MemoryFloor as exc:
                out["stopped_by"] = str(exc)
                break
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
        limit = asyncio.Semaphore(2)

        async def one(i: int) -> None:
            async with limit:
                session = await design.add(f"m{i}")
                await design.connect(session, phone, phone_number(first + i))

        async def ramp(start: int, stop: int) -> None:
            async with asyncio.TaskGroup() as group:
                for i in range(start, stop):
                    group.create_task(one(i))

        try:
            done = 0
            for step in steps:
                if why := memory_low():
                    out["stopped_by"] = why
                    break
                try:
                    await guarded(ramp(done, step))
                except MemoryFloor as exc:
                    out["stopped_by"] = str(exc)
                    break
                done = step
                await asyncio.sleep(SETTLE_S)
                sample = await asyncio.to_thread(design.memory)
                out[str(step)] = {**sample, "per_session_bytes": sample["pss_bytes"] // step}
        finally:
            await design.aclose()
    _marginal(out, steps)
    return out


def _marginal(out: dict[str, Any], steps: tuple[int, ...]) -> None:
    if len(steps) > 1 and all(str(s) in out for s in (steps[0], steps[-1])):
        grown = out[str(steps[-1])]["pss_bytes"] - out[str(steps[0])]["pss_bytes"]
        out["marginal_bytes"] = grown // (steps[-1] - steps[0])
