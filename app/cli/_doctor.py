"""`pairdesk doctor`: print a table of checks; exit 0 only when every one passes."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import TextIO

from app.cli import load_settings
from app.engine.doctor import CheckResult, run_checks


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--skip-launch",
        action="store_true",
        help="do not start a headless Chromium (faster; only finds the binary)",
    )


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    results = asyncio.run(run_checks(settings, launch_browser=not args.skip_launch))
    print_table(results, sys.stdout)
    failed = [r for r in results if not r.ok]
    if failed:
        print(f"\n{len(failed)} check(s) failed; fix them and run `pairdesk doctor` again.")
        return 1
    print("\nall checks passed")
    return 0


def print_table(results: Sequence[CheckResult], out: TextIO) -> None:
    name_w = max(len(r.name) for r in results)
    for r in results:
        mark = "FAIL" if not r.ok else "warn" if getattr(r, "warning", False) else "ok  "
        print(f"{mark}  {r.name.ljust(name_w)}  {r.detail}", file=out)
        if (not r.ok or mark == "warn") and r.advice:
            print(f"      {' ' * name_w}  -> {r.advice}", file=out)
