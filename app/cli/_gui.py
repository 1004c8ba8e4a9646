"""`pairdesk gui`: not built yet (see README.md)."""

from __future__ import annotations

import argparse

from app.cli import not_built


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    return not_built("gui")
