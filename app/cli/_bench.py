"""`pairdesk bench`: measure the performance targets (docs/BENCHMARKS.md) side
by side with the one-browser-per-session design, in one run.

Starts its own sandbox, reference central API, supervisor and instances,
prints a table, optionally writes a JSON report, and ends every process it
started. `--quick` is the few-minute smoke run. See docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from app.cli import UserError, load_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from app.bench import SCENARIOS

    parser.add_argument(
        "--quick", action="store_true", help="small counts, a few minutes (the smoke run)"
    )
    parser.add_argument(
        "--sessions",
        type=int,
        default=0,
        metavar="N",
        help=(
            "the many-sessions scenarios' size: capacity ramps to N (default 300), restore "
            "brings back min(N, 300) (at real weight min(N, 130)), memory's top step is "
            "min(N, 50); the latency, onboarding and grid scenarios keep their fixed counts"
        ),
    )
    parser.add_argument("--json", dest="json_path", metavar="PATH", help="write the report here")
    parser.add_argument(
        "--scenario",
        dest="scenarios",
        nargs="+",
        choices=list(SCENARIOS),
        metavar="NAME",
        help=f"run only these ({', '.join(SCENARIOS)}); default: all",
    )
    parser.add_argument(
        "--boot-delay",
        dest="boot_delay",
        type=float,
        default=0.0,
        help="the sandbox page's boot delay in seconds (default 0)",
    )
    parser.add_argument(
        "--page-weight",
        dest="page_weight",
        choices=("light", "real", "both"),
        default="light",
        help=(
            "what a linked sandbox page weighs in memory, capacity and restore: light (the "
            "login page alone), real (calibrated to the real client, docs/SANDBOX.md) or both"
        ),
    )
    parser.add_argument(
        "--load",
        type=int,
        default=0,
        metavar="N",
        help=(
            "also run the latency, onboarding and grid scenarios with N busy loops competing "
            "for the cores, beside their quiet run (default 0: quiet only)"
        ),
    )


def run(args: argparse.Namespace) -> int:
    from app.bench import SCENARIOS, run_bench
    from app.bench._context import BenchOptions

    if args.sessions < 0 or args.sessions > 5000:
        raise UserError(
            f"--sessions: expected 1 to 5000 (or 0 for the defaults), got {args.sessions}"
        )
    if not 0 <= args.boot_delay <= 60:
        raise UserError(f"--boot-delay: expected 0 to 60 seconds, got {args.boot_delay}")
    if not 0 <= args.load <= 16:
        raise UserError(f"--load: expected 0 to 16 busy loops, got {args.load}")
    json_path = Path(args.json_path) if args.json_path else None
    if json_path is not None and not json_path.parent.is_dir():
        raise UserError(f"--json: the folder {json_path.parent} does not exist")
    options = BenchOptions(
        quick=args.quick,
        sessions=args.sessions,
        boot_delay=args.boot_delay,
        page_weights=("light", "real") if args.page_weight == "both" else (args.page_weight,),
        load=args.load,
        base_settings=load_settings(args),
    )
    names = list(dict.fromkeys(args.scenarios or SCENARIOS))
    return run_bench(options, names, json_path=json_path)
