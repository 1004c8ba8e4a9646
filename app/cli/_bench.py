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
            "brings back min(N, 200), memory's top step is min(N, 50); the latency, "
            "onboarding and grid scenarios keep their fixed counts"
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


def run(args: argparse.Namespace) -> int:
    from app.bench import SCENARIOS, run_bench
    from app.bench._context import BenchOptions

    if args.sessions < 0 or args.sessions > 5000:
        raise UserError(
            f"--sessions: expected 1 to 5000 (or 0 for the defaults), got {args.sessions}"
        )
    if not 0 <= args.boot_delay <= 60:
        raise UserError(f"--boot-delay: expected 0 to 60 seconds, got {args.boot_delay}")
    json_path = Path(args.json_path) if args.json_path else None
    if json_path is not None and not json_path.parent.is_dir():
        raise UserError(f"--json: the folder {json_path.parent} does not exist")
    options = BenchOptions(
        quick=args.quick,
        sessions=args.sessions,
        boot_delay=args.boot_delay,
        base_settings=load_settings(args),
    )
    names = list(dict.fromkeys(args.scenarios or SCENARIOS))
    return run_bench(options, names, json_path=json_path)
