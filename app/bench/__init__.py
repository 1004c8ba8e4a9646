"""`pairdesk bench`: the performance targets of docs/BENCHMARKS.md, measured
side by side with the one-browser-per-session design pairdesk replaces.

One module per scenario (`qr_latency`, `webhook_latency`, `memory`,
`capacity`, `restore`, `onboarding`, `grid`), each `async def run(ctx,
result)` (or `run_qt` for the console scenarios) filling a `ScenarioResult`;
`_harness` has what they share, `_runner` runs them and cleans up every
process the bench started. See docs/BENCHMARKS.md.
"""

from __future__ import annotations

from app.bench._runner import SCENARIOS, run_bench

__all__ = ["SCENARIOS", "run_bench"]
