"""`pairdesk gui`: the operator console (PySide6), optionally with demo accounts.

`--demo N` adds N sandbox accounts at start. `--screenshot PATH` renders the
chosen `--view` to a PNG after `--after` seconds and exits, or with
`--every S --exit-after T` writes PATH with `{n}` replaced by 1, 2, 3…
Without a display (no DISPLAY/WAYLAND_DISPLAY and QT_QPA_PLATFORM unset) it
falls back to the terminal view (`pairdesk serve`).

Until the engine offers `open_engine`, or with `--demo-engine`, the console
runs on `DemoEngine`: scripted, in-memory demo data, clearly badged.

First run: when nothing configures pairdesk (`app.first_run.is_first_run`:
no `--config`, no `pairdesk.toml`, no `PAIRDESK_*` variable) and a person
can answer (a real display, not `QT_QPA_PLATFORM=offscreen`/`minimal`, no
`--headless`, `--demo`, `--screenshot` or `--demo-engine`), the first-run
dialog comes before the console. So `make run` (`--demo 3`), the test suite
(offscreen) and scripted screenshots never see it.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from app.cli import load_settings
from app.config import ConfigError, Settings, find_config_file
from app.engine import qt_platform
from app.first_run import is_first_run

if TYPE_CHECKING:
    from app.ui.engine_host import EngineFactory

VIEWS = {"qr": 0, "grid": 1, "instances": 2, "onboarding": 3, "diagnostics": 4}
# The names the window shows (QR wall, Sessions, Instances, Onboard, Diagnose) work too.
VIEW_ALIASES = {
    "wall": "qr",
    "sessions": "grid",
    "onboard": "onboarding",
    "diagnose": "diagnostics",
}
TABS = {"timeline": 0, "sync": 1, "logs": 2, "doctor": 3, "bundle": 4, "events": 5}
DEMO_CSV = """workspace_id,label,phone
12,Toko Maju,+62 811 2233 4410
40,Klinik Sehat,
7,Kopi Kita,0811-5566-7788
abc,Bengkel Jaya,
12,Toko Maju,+62 811 2233 4410
55,Apotek Sentosa,62 812 ab 99
61,Laundry Bersih,
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--demo",
        type=_count,
        default=0,
        metavar="N",
        help="N sandbox demo accounts (reused from earlier runs, never duplicated)",
    )
    parser.add_argument(
        "--view",
        type=_view,
        default="qr",
        metavar="VIEW",
        help="view to open: wall, sessions, instances, onboard, diagnose "
        "(or qr, grid, onboarding, diagnostics)",
    )
    parser.add_argument(
        "--tab",
        choices=sorted(TABS),
        default="sync",
        help="diagnostics tab to open with --view diagnostics",
    )
    parser.add_argument("--screenshot", metavar="PATH", help="render the view to PNG and exit")
    parser.add_argument("--after", type=_seconds, default=2.0, metavar="SECONDS")
    parser.add_argument("--every", type=_seconds, default=0.0, metavar="SECONDS")
    parser.add_argument("--exit-after", type=_seconds, default=0.0, metavar="SECONDS")
    parser.add_argument("--headless", action="store_true", help="render offscreen (no window)")
    parser.add_argument("--theme", choices=("system", "light", "dark"), default="system")
    parser.add_argument(
        "--size", type=_size, default=(1440, 900), metavar="WxH", help="window size, e.g. 1440x900"
    )
    parser.add_argument(
        "--demo-engine",
        action="store_true",
        help="use the scripted in-memory demo engine (no browser)",
    )


# Each option's check: argparse prints "pairdesk gui: error: argument --size: …" in one
# line (after the usage) and exits 2, never a traceback.


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 0 <= value <= 500:
        raise argparse.ArgumentTypeError(f"expected 0 to 500, got {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, e.g. 2.5, got {text!r}") from None
    if not 0 <= value <= 86400:
        raise argparse.ArgumentTypeError(f"expected 0 to 86400 seconds, got {value:g}")
    return value


def _size(text: str) -> tuple[int, int]:
    width, sep, height = text.lower().partition("x")
    if not (sep and width.isdigit() and height.isdigit()):
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, e.g. 1440x900, got {text!r}")
    w, h = int(width), int(height)
    if not (320 <= w <= 10000 and 240 <= h <= 10000):
        raise argparse.ArgumentTypeError(
            f"expected at least 320x240 and at most 10000x10000, got {text}"
        )
    return w, h


def _view(text: str) -> str:
    name = text.strip().lower().replace(" ", "")
    name = VIEW_ALIASES.get(name, name)
    if name not in VIEWS:
        choices = "wall, sessions, instances, onboard, diagnose"
        raise argparse.ArgumentTypeError(f"expected one of {choices}, got {text!r}")
    return name


def _has_display() -> bool:
    return qt_platform.has_display(os.environ)


def _window_blocker() -> str:
    """Why Qt cannot open a window here, as one line; "" when it can.

    A failed platform plugin aborts the process, so a real display is probed
    in a child first (offscreen/minimal need no system libraries)."""
    if not sys.platform.startswith("linux"):
        return ""
    if not _has_display():
        return "no display"
    if os.environ.get("QT_QPA_PLATFORM", "").split(":")[0] in ("offscreen", "minimal"):
        return ""
    found = qt_platform.probe()
    if found.ok:
        return ""
    return f"the console cannot open ({found.detail}); fix: {found.advice}"


def run(args: argparse.Namespace) -> int:
    if args.headless:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    blocker = _window_blocker()
    if blocker:
        print(f"pairdesk gui: {blocker}; starting the terminal view instead", file=sys.stderr)
        from app.cli import main

        fleet_url = getattr(args, "fleet_database_url", None)
        fleet = ["--fleet", fleet_url] if fleet_url else []
        return main(["serve", *(["--demo", str(args.demo)] if args.demo else []), *fleet])
    settings = load_settings(args)
    from app.logfiles import open_log

    open_log(settings, "console")  # data_dir/logs/console.log, secrets redacted
    from app.bootstrap import open_engine
    from app.ui.app import ConsoleOptions, run_console

    first_run = None
    if _asks_first_run(args):
        from app.cli._first_run import checks
        from app.ui.first_run_dialog import FirstRun

        def reload() -> tuple[Settings, EngineFactory]:
            fresh = load_settings(args)
            return fresh, lambda: open_engine(fresh)

        first_run = FirstRun(checks=checks(), reload=reload, environ=os.environ)

    return run_console(
        settings,
        ConsoleOptions(
            demo=args.demo,
            view=VIEWS[args.view],
            tab=TABS[args.tab],
            screenshot=args.screenshot or "",
            after=args.after,
            every=args.every,
            exit_after=args.exit_after,
            theme=args.theme,
            size=args.size,
            demo_engine=args.demo_engine,
            demo_csv=DEMO_CSV if args.demo else "",
            config_file=str(_config_in_use(args) or ""),
        ),
        engine_factory=lambda: open_engine(settings),
        first_run=first_run,
    )


def _asks_first_run(args: argparse.Namespace) -> bool:
    if args.demo or args.screenshot or args.demo_engine or args.headless:
        return False
    if os.environ.get("QT_QPA_PLATFORM", "").split(":")[0] in ("offscreen", "minimal"):
        return False  # nobody can answer a dialog there
    return is_first_run(explicit_config=args.config_file, environ=os.environ, cwd=Path.cwd())


def _config_in_use(args: argparse.Namespace) -> Path | None:
    if args.config_file:
        return Path(args.config_file)
    try:
        return find_config_file(os.environ, Path.cwd())
    except ConfigError:
        return None
