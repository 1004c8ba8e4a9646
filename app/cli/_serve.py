"""`pairdesk serve`: the supervisor and its instances without a window (terminal view).

Prints each new login QR as terminal art (scannable from the screen, also over
SSH), each pairing code large enough to read out, each state change as one
line (with the operator's message when a gate needs them); Ctrl+C or SIGTERM stops every
instance and Chromium cleanly. `--demo N` adds N sandbox accounts at start.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, TextIO

from app.cli import UserError, load_settings
from app.config import Settings
from app.domain.events import (
    EngineEvent,
    InstanceLoad,
    PairingCodeIssued,
    QrIssued,
    SessionError,
    SessionReady,
    SessionStateChanged,
)
from app.domain.models import InstanceInfo
from app.domain.qr import qr_modules
from app.logfiles import FORMAT, open_log
from app.operator.text import phone as shown_phone
from app.operator.text import reason_message

if TYPE_CHECKING:
    from app.engine.api import Engine

WATCH_INTERVAL = 3.0  # seconds between looks at the instances' health
ART_QUIET_ZONE = 2  # modules: enough for phone cameras, and saves terminal lines
_HALF_BLOCKS = (" ", "▀", "▄", "█")  # indexed by: upper half painted + 2 * lower half painted


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--demo",
        type=int,
        default=0,
        metavar="N",
        help="add N sandbox accounts (workspace 1) at start",
    )
    parser.add_argument(
        "--instances",
        type=int,
        default=None,
        metavar="N",
        help="instance processes (default: the instances setting)",
    )
    parser.add_argument("--max-sessions", dest="max_sessions", type=int, default=None)
    parser.add_argument(
        "--time-scale",
        dest="time_scale",
        type=float,
        default=None,
        help="sandbox timings multiplier, e.g. 0.1 for a quick demo",
    )
    parser.add_argument(
        "--no-qr",
        dest="qr_art",
        action="store_false",
        help="print each QR as one line (its number and expiry) instead of terminal art",
    )
    parser.add_argument(
        "--light-terminal",
        dest="invert",
        action="store_false",
        help="draw QR codes for dark text on a light background",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also show the engine's log and every instance's output",
    )


def run(args: argparse.Namespace) -> int:
    if args.demo < 0:
        raise UserError(f"--demo must be 0 or more, got {args.demo}")
    settings = load_settings(
        args,
        instances=args.instances,
        max_sessions=args.max_sessions,
        time_scale=args.time_scale,
    )
    _check_chromium(settings)
    # The log goes to its file; on the terminal only with -v, so raw lines never
    # land between the view's lines and QR art.
    log_file = open_log(settings, "serve")
    if args.verbose:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr, format=FORMAT)
        os.environ["PAIRDESK_ECHO_INSTANCES"] = "1"
    view = TerminalView(sys.stdout, qr_art=args.qr_art, invert=args.invert)
    if log_file is not None:
        view.line(f"log: {log_file}")
    asyncio.run(serve(settings, view, demo=args.demo))
    return 0


def _check_chromium(settings: Settings) -> None:
    """A missing browser is a configuration error: stop with one line, not retry forever."""
    from app.engine.chromium import ChromiumNotFound, find_chromium

    try:
        find_chromium(settings.chromium)
    except ChromiumNotFound as exc:
        raise UserError(f"cannot start: {exc}") from None


async def serve(settings: Settings, view: TerminalView, *, demo: int = 0) -> None:
    from app.bootstrap import open_engine
    from app.engine.api import AccountSpec, EngineError

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    engine = open_engine(settings)
    if settings.fleet_database_url:
        view.line("attaching to the fleet (its members run the sessions)...")
    else:
        view.line(f"starting {settings.instances} instance(s)...")
    try:
        await engine.start()
    except EngineError as exc:
        raise UserError(str(exc)) from None
    try:
        events = engine.subscribe()
        async with asyncio.TaskGroup() as group:
            printer = group.create_task(_print_events(events, view))
            watcher = group.create_task(_watch_instances(engine, view))
            instances = await engine.list_instances()
            view.started(instances, provider=engine.provider_url, central=engine.central_url)
            for info in instances:
                if not info.alive:
                    for text in await engine.instance_log(info.instance_id, 6):
                        view.line(f"  {info.instance_id}| {text}")
            if demo:
                specs = [AccountSpec(workspace_id=1, label=f"Demo {n}") for n in range(1, demo + 1)]
                try:
                    added = await engine.add_accounts(specs)
                    view.line(f"added {len(added)} demo account(s); QR codes follow")
                except EngineError as exc:
                    view.line(f"could not add demo accounts: {exc}")
            await stop.wait()
            view.line("stopping: snapshotting sessions and closing every instance...")
            printer.cancel()
            watcher.cancel()
    finally:
        await engine.aclose()
    view.line("stopped")


async def _watch_instances(engine: Engine, view: TerminalView) -> None:
    """One status line each time an instance's trouble changes: a transient failure
    backs off in the supervisor, and the view says so once, not once per retry."""
    while True:
        await asyncio.sleep(WATCH_INTERVAL)
        with contextlib.suppress(Exception):  # a closing engine: the next line says so
            view.instances(await engine.list_instances())


async def _print_events(events: object, view: TerminalView) -> None:
    async for event in events:  # type: ignore[attr-defined]
        view.event(event)


class TerminalView:
    """Turns engine events into terminal lines and QR art."""

    def __init__(self, out: TextIO, *, qr_art: bool = True, invert: bool = True) -> None:
        self._out = out
        self._qr_art = qr_art
        self._invert = invert
        self._alive: dict[str, bool] = {}
        self._trouble: dict[str, str] = {}  # instance -> the last error reported

    def line(self, text: str) -> None:
        stamp = datetime.now().strftime("%H:%M:%S")
        print(f"{stamp} {text}", file=self._out, flush=True)

    def started(self, instances: Sequence[InstanceInfo], *, provider: str, central: str) -> None:
        for info in instances:
            self._alive[info.instance_id] = info.alive
            where = f"at {info.url} (pid {info.pid})"
            self.line(
                f"{info.instance_id} {'up ' + where if info.alive else 'did not start; retrying'}"
            )
        if provider:
            self.line(f"login pages from {provider}")
            if "127.0.0.1" in provider or "localhost" in provider:
                self.line(f"sandbox test phone: POST {provider}phone/scan {{qr, phone}}")
        if central:
            self.line(f"webhooks to {central}")
        self.line("Ctrl+C stops everything")

    def instances(self, infos: Sequence[InstanceInfo]) -> None:
        for info in infos:
            error = "" if info.alive else info.last_error
            if error == self._trouble.get(info.instance_id, ""):
                continue
            self._trouble[info.instance_id] = error
            if error:
                self.line(
                    f"{info.instance_id} down: {error}; retrying with back-off "
                    f"({info.restarts} restart(s) so far)"
                )

    def event(self, event: EngineEvent) -> None:
        if isinstance(event, SessionStateChanged):
            reason = f" ({event.reason.value})" if event.reason else ""
            before = f"{event.previous.value} -> " if event.previous else ""
            self.line(
                f"{event.session_id} [{event.instance_id or '-'}] "
                f"{before}{event.state.value}{reason}"
            )
            # What the reason means for the operator, else what happened (as the console's
            # "Reason / last error" column shows it): an error is never a bare "(error)".
            advice = reason_message(event.reason) or event.detail
            if advice:
                self.line(f"  {advice}")
        elif isinstance(event, QrIssued):
            self._qr(event)
        elif isinstance(event, PairingCodeIssued):
            self.line(
                f"{event.session_id} [{event.instance_id or '-'}] pairing code "
                f"#{event.code_count} for {shown_phone(event.phone)}: {event.display_code}  "
                f"(type it on the phone within {event.expires_in:.0f} s)"
            )
        elif isinstance(event, SessionReady):
            how = "restored" if event.restored else "linked"
            self.line(f"{event.session_id} {how}: phone +{event.phone_number}")
        elif isinstance(event, SessionError):
            self.line(f"{event.session_id} error: {event.message}")
        elif isinstance(event, InstanceLoad):
            was = self._alive.get(event.instance_id)
            self._alive[event.instance_id] = event.alive
            if was is not None and was != event.alive:
                if event.alive:
                    self.line(f"{event.instance_id} up again (pid {event.pid})")
                else:
                    self.line(f"{event.instance_id} down; restarting it")

    def _qr(self, event: QrIssued) -> None:
        again = " (regenerated)" if event.is_regeneration else ""
        self.line(
            f"{event.session_id} [{event.instance_id or '-'}] QR #{event.qr_count}{again}, "
            f"scan within {event.expires_in:.0f} s"
        )
        if self._qr_art:
            try:
                art = qr_art(event.qr, invert=self._invert)
            except ValueError:  # no QR holds this text: a broken login page
                art = "  (this QR is too long to draw; if it stays, restart the account)\n"
            self._out.write(art)
            self._out.flush()


def qr_art(text: str, *, invert: bool = True) -> str:
    """The QR as half-block characters, two module rows per line, 2-module quiet zone.

    With `invert` (light text on a dark terminal) the characters paint the
    light modules, otherwise the dark ones.
    """
    rows = qr_modules(text, ART_QUIET_ZONE)
    # The half line under an odd last row is left unpainted: the terminal's background.
    unpainted = (invert,) * len(rows)
    lines = []
    for upper, lower in zip(rows[::2], (*rows[1::2], unpainted), strict=False):
        cells = (
            (top != invert) + 2 * (bottom != invert)
            for top, bottom in zip(upper, lower, strict=True)
        )
        lines.append("".join(_HALF_BLOCKS[cell] for cell in cells))
    return "\n".join(lines) + "\n"
