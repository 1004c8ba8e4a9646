"""The targets of the performance issue, each with a met/missed verdict.

Each target names the run it is judged on (scenario, page weight, and whether
it must be a loaded run), reads its figure from that run's report and
compares. A target whose run is not in this bench run is "not run", never
guessed; a latency target meant for a loaded run judged on a quiet run only
says "quiet only". The verdicts go into the report (`verdicts`) and a table
after the figures.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from app.bench._harness import ScenarioResult

MIN_LOAD = 2  # "two busy processes competing for the two cores"
# Connected sessions the capacity scenario must hold, by page weight.
NEED_AT_WEIGHT = {"light": 300, "real": 120}

Reading = tuple[float, str] | None  # (value compared, how it reads in the table)


@dataclass(frozen=True)
class Target:
    text: str
    scenario: str
    weight: str
    loaded: bool
    read: Callable[[dict[str, Any]], Reading]
    met: Callable[[float], bool]


def _ms(figures: dict[str, Any], *path: str) -> Reading:
    value: Any = figures
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return (float(value), f"{float(value):.0f} ms")


def _memory_ratio(f: dict[str, Any]) -> Reading:
    for key, basis in (
        ("ratio_context_to_replaced", "replaced"),
        ("ratio_context_to_profile", "profile"),
    ):
        if key in f:
            return (float(f[key]), f"{float(f[key]):.0%} of {basis}")
    return None


def _capacity(target: int) -> Callable[[dict[str, Any]], Reading]:
    def read(f: dict[str, Any]) -> Reading:
        if not f.get("steps"):
            return None
        # The verdict needs both: the count held and a heartbeat p95 under 1 s at that count.
        last = f["steps"][-1]
        held, p95 = int(last["sessions"]), float(last["heartbeat_p95_ms"])
        value = float(held) if p95 < 1000 else 0.0
        return (value, f"{held} held, heartbeat p95 {p95:.0f} ms (need {target})")

    return read


def _restore(f: dict[str, Any]) -> Reading:
    if "restore_s" not in f:
        return None
    n, secs = int(f["sessions"]), float(f["restore_s"])
    clean = f["qr_during_restore"] == 0 and f["conflicts"] == 0
    text = f"{n} in {secs:.1f} s, {f['qr_during_restore']} QR, {f['conflicts']} conflicts"
    return (secs if n >= 300 and clean else float("inf"), text)


def _onboarding(f: dict[str, Any]) -> Reading:
    """The longest wait: "0" means every scan found the next QR already there, as the
    scenario's own row judges it (a p95 of 0 would pass a run with waits in it)."""
    waits = f.get("operator_wait_ms", {})
    if "max" not in waits:
        return None
    there = f.get("waits_zero", 0)
    return (
        float(waits["max"]),
        f"{there} of {waits.get('n', 0)} already there; longest wait {waits['max']:.0f} ms",
    )


TARGETS: tuple[Target, ...] = (
    Target(
        "memory: context <= 40% of one browser per session (real)",
        "memory",
        "real",
        False,
        _memory_ratio,
        lambda v: v <= 0.40,
    ),
    Target(
        ">= 120 connected, heartbeat p95 < 1 s (real)",
        "capacity",
        "real",
        False,
        _capacity(NEED_AT_WEIGHT["real"]),
        lambda v: v >= NEED_AT_WEIGHT["real"],
    ),
    Target(
        ">= 300 connected, heartbeat p95 < 1 s (light)",
        "capacity",
        "light",
        False,
        _capacity(NEED_AT_WEIGHT["light"]),
        lambda v: v >= NEED_AT_WEIGHT["light"],
    ),
    Target(
        "restore 300 in < 60 s, 0 QR, 0 conflicts (light)",
        "restore",
        "light",
        False,
        _restore,
        lambda v: v < 60,
    ),
    Target(
        "scan ok -> next QR on screen: 0 (already there)",
        "onboarding",
        "light",
        False,
        _onboarding,
        lambda v: v <= 0,
    ),
    Target(
        "webhook p95 < 50 ms under load",
        "webhook-latency",
        "light",
        True,
        lambda f: _ms(f, "latency_ms", "p95"),
        lambda v: v < 50,
    ),
    Target(
        "grid's longest stall < 50 ms under load",
        "grid",
        "light",
        True,
        lambda f: _ms(f, "longest_stall_ms"),
        lambda v: v < 50,
    ),
    Target(
        "warm QR p50 < 50 ms",
        "qr-latency",
        "light",
        False,
        lambda f: _ms(f, "warm", "to_painted_ms", "p50"),
        lambda v: v < 50,
    ),
)


def judge(results: Sequence[ScenarioResult]) -> list[dict[str, str]]:
    """One verdict per target: met, missed, quiet only, or not run."""
    out = []
    for target in TARGETS:
        runs = [
            r
            for r in results
            if (r.scenario or r.name) == target.scenario
            and r.page_weight == target.weight
            and r.status == "ok"
        ]
        loaded = [r for r in runs if r.load >= MIN_LOAD]
        quiet = [r for r in runs if r.load == 0]
        # A target "under load" is judged on a loaded run, any other on a quiet one.
        preferred = loaded if target.loaded else quiet
        run = (preferred or runs)[-1] if runs else None
        reading = target.read(run.figures) if run is not None else None
        if run is None or reading is None:
            out.append({"target": target.text, "run": "", "measured": "", "verdict": "not run"})
            continue
        value, text = reading
        verdict = "met" if target.met(value) else "missed"
        if target.loaded and run.load < MIN_LOAD:
            verdict = f"quiet only ({verdict}); run with --load {MIN_LOAD}"
        out.append({"target": target.text, "run": run.name, "measured": text, "verdict": verdict})
    return out


def render_verdicts(verdicts: Sequence[dict[str, str]]) -> str:
    lines = [("target", "run", "measured", "verdict")]
    lines += [(v["target"], v["run"], v["measured"], v["verdict"]) for v in verdicts]
    widths = [max(len(line[c]) for line in lines) for c in range(4)]
    out = []
    for i, line in enumerate(lines):
        out.append("  ".join(cell.ljust(widths[c]) for c, cell in enumerate(line)).rstrip())
        if i == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)
