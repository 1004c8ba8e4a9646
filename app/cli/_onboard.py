"""`pairdesk onboard FILE`: add accounts from a CSV/XLSX sheet and walk through the scans.

Every row is validated first (`app.domain.import_rows`) and each rejected row
is printed with its reason. A file that cannot be used at all, or has no
valid row, creates nothing. With rejected rows the valid ones are created
only after confirmation (`--yes`, or answering "y" at the prompt).

The accounts are created stopped; the current account and the next two are
started, so the next QR is already there when one is scanned. Each account's
QR is printed as terminal art with a progress line; `--phone-scan-sandbox`
has the sandbox test phone scan each QR (for demos and tests). At the end, or
on Ctrl+C, the results CSV gets one line per row of the file with its result
and phone number.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from app.cli import UserError, load_settings
from app.domain.events import QrIssued, SessionError, SessionReady, SessionStateChanged
from app.domain.import_rows import ImportFileError, ImportRow, parse_bytes, results_csv
from app.domain.states import SessionState

WARM = 3  # the current account and the next two are started
_GAVE_UP = (SessionState.FAILED, SessionState.LOGGED_OUT)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="CSV or XLSX: workspace_id,label,phone")
    parser.add_argument(
        "--results", metavar="PATH", help="results CSV (default: FILE.results.csv beside the file)"
    )
    parser.add_argument(
        "-y",
        "--yes",
        action="store_true",
        help="create the valid rows even when some rows are rejected",
    )
    parser.add_argument(
        "--phone-scan-sandbox",
        dest="sandbox_scan",
        action="store_true",
        help="let the sandbox test phone scan each QR (demos, tests)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="give up on an account not linked within this time",
    )
    parser.add_argument("--instances", type=int, default=None, metavar="N")
    parser.add_argument(
        "--time-scale",
        dest="time_scale",
        type=float,
        default=None,
        help="sandbox timings multiplier, e.g. 0.2 for a quick demo",
    )
    parser.add_argument(
        "--no-qr",
        dest="qr_art",
        action="store_false",
        help="print QR codes as one line instead of terminal art",
    )
    parser.add_argument(
        "--light-terminal",
        dest="invert",
        action="store_false",
        help="draw QR codes for dark text on a light background",
    )


def run(args: argparse.Namespace) -> int:
    path = Path(args.file)
    rows = read_rows(path)
    good = [r for r in rows if r.ok]
    bad = [r for r in rows if not r.ok]
    out = sys.stdout
    for row in bad:
        print(f"  rejected  {row.error}", file=out)
    if not good:
        raise UserError(f"{path.name}: no valid row ({len(bad)} rejected); nothing was created")
    print(f"{path.name}: {len(good)} row(s) ready, {len(bad)} rejected", file=out)
    if bad and not args.yes and not _confirm(f"Create the {len(good)} valid account(s)? [y/N] "):
        print("Nothing was created. Fix the rows above, or re-run with --yes.", file=out)
        return 2
    settings = load_settings(args, instances=args.instances, time_scale=args.time_scale)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    results = Path(args.results) if args.results else path.with_name(path.name + ".results.csv")
    walk = Walk(rows, out=out, qr_art=args.qr_art, invert=args.invert)
    try:
        asyncio.run(onboard(settings, walk, sandbox_scan=args.sandbox_scan, timeout=args.timeout))
    finally:
        results.write_text(results_csv(walk.results()), encoding="utf-8")
        print(f"results: {results}  ({walk.summary()})", file=out)
    return 0 if walk.all_connected() else 1


def read_rows(path: Path) -> list[ImportRow]:
    """The file's rows with their verdicts; a file that cannot be used is a `UserError`."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        rows = parse_bytes(path.name, data)
    except ImportFileError as exc:
        raise UserError(f"{path.name}: {exc}; nothing was created") from None
    if not rows:
        raise UserError(f"{path.name}: no data rows under the header; nothing was created")
    return rows


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        print("Some rows were rejected; pass --yes to create the valid ones.", file=sys.stdout)
        return False
    try:
        return input(question).strip().lower() in ("y", "yes")
    except EOFError:
        return False


@dataclass
class Account:
    row: ImportRow
    session_id: str = ""
    qr: str = ""
    qr_count: int = 0
    state: SessionState = SessionState.STOPPED
    phone: str = ""
    result: str = "not connected"
    started_at: float = 0.0
    seconds: float | None = None
    linked: asyncio.Event = field(default_factory=asyncio.Event)
    new_qr: asyncio.Event = field(default_factory=asyncio.Event)


class Walk:
    """The accounts of one run, their progress, and what the terminal shows."""

    def __init__(self, rows: Sequence[ImportRow], *, out: TextIO, qr_art: bool, invert: bool):
        self.rows = list(rows)
        self.accounts = [Account(r) for r in rows if r.ok]
        self._by_id: dict[str, Account] = {}
        self._out = out
        self._qr_art = qr_art
        self._invert = invert
        self._began = time.monotonic()

    def bind(self, session_ids: Sequence[str]) -> None:
        for account, sid in zip(self.accounts, session_ids, strict=True):
            account.session_id = sid
            self._by_id[sid] = account

    def event(self, event: Any) -> None:
        account = self._by_id.get(getattr(event, "session_id", ""))
        if account is None:
            return
        if isinstance(event, QrIssued) and event.qr_count >= account.qr_count:
            account.qr, account.qr_count = event.qr, event.qr_count
            account.new_qr.set()
        elif isinstance(event, SessionStateChanged):
            account.state = event.state
            account.phone = event.phone_number or account.phone
            if event.state is SessionState.CONNECTED or event.state in _GAVE_UP:
                account.linked.set()
        elif isinstance(event, SessionReady):
            account.state, account.phone = SessionState.CONNECTED, event.phone_number
            account.linked.set()
        elif isinstance(event, SessionError):
            self.line(f"  {self.name(account)}: {event.message}")

    def name(self, account: Account) -> str:
        return f"{account.row.label or account.session_id} (ws {account.row.workspace_raw})"

    def line(self, text: str) -> None:
        print(text, file=self._out, flush=True)

    def show_qr(self, n: int, account: Account) -> None:
        self.line("")
        self.line(f"[{n}/{len(self.accounts)}] {self.name(account)}  QR #{account.qr_count}")
        self.line(f"  {self.summary()}")
        if self._qr_art:
            from app.cli._serve import qr_art

            self._out.write(qr_art(account.qr, invert=self._invert))
            self._out.flush()
        else:
            self.line(f"  {account.qr}")

    def connected(self) -> list[Account]:
        return [a for a in self.accounts if a.result == "connected"]

    def all_connected(self) -> bool:
        return len(self.connected()) == len(self.accounts)

    def summary(self) -> str:
        done = self.connected()
        skipped = sum(1 for a in self.accounts if a.result not in ("connected", "not connected"))
        parts = [f"{len(done)} / {len(self.accounts)} connected", f"{skipped} skipped"]
        if done:
            avg = (time.monotonic() - self._began) / len(done)
            parts.append(f"avg {avg:.0f} s per account")
            left = len(self.accounts) - len(done) - skipped
            if left > 0:
                parts.append(f"eta {avg * left:.0f} s")
        return "  ·  ".join(parts)

    def results(self) -> list[dict[str, str]]:
        by_line = {a.row.line: a for a in self.accounts}
        out = []
        for row in self.rows:
            account = by_line.get(row.line)
            if account is None:
                result, phone, sid, secs = f"rejected: {row.error.split(': ', 1)[-1]}", "", "", ""
            else:
                result, phone, sid = account.result, account.phone, account.session_id
                secs = f"{account.seconds:.0f}" if account.seconds is not None else ""
            out.append(
                {
                    "row": str(row.line),
                    "workspace_id": row.workspace_raw,
                    "label": row.label,
                    "phone": phone or row.phone_raw,
                    "session_id": sid,
                    "result": result,
                    "seconds": secs,
                }
            )
        return out


async def onboard(settings: Any, walk: Walk, *, sandbox_scan: bool, timeout: float) -> None:
    from app.bootstrap import open_engine
    from app.engine.api import AccountSpec, EngineError

    engine = open_engine(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    walk.line(f"starting {settings.instances} instance(s)...")
    try:
        try:
            await engine.start()
        except EngineError as exc:
            raise UserError(str(exc)) from None
        events = engine.subscribe()
        pump = asyncio.create_task(_pump(events, walk))
        try:
            specs: list[AccountSpec] = [a.row.spec for a in walk.accounts if a.row.spec]
            try:
                created = await engine.add_accounts(specs, start=False)
            except EngineError as exc:
                raise UserError(f"nothing was created: {exc}") from None
            walk.bind([info.session_id for info in created])
            walk.line(f"created {len(created)} account(s); scan each QR with the customer's phone")
            scanner = None
            if sandbox_scan:
                if not engine.sandbox_url:
                    raise UserError("--phone-scan-sandbox needs the sandbox (provider_url empty)")
                scanner = _SandboxPhone(engine.sandbox_url)
            walking = asyncio.create_task(_walk(engine, walk, scanner, timeout))
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({walking, stopping}, return_when=asyncio.FIRST_COMPLETED)
            for task in (walking, stopping):
                task.cancel()
            await asyncio.gather(walking, stopping, return_exceptions=True)
            if walking.done() and not walking.cancelled() and walking.exception():
                raise walking.exception()  # type: ignore[misc]
            if stop.is_set():
                walk.line("stopped by the operator; writing the results so far")
        finally:
            pump.cancel()
            await asyncio.gather(pump, return_exceptions=True)
    finally:
        walk.line("stopping every instance...")
        await engine.aclose()


async def _pump(events: Any, walk: Walk) -> None:
    async for event in events:
        walk.event(event)


async def _walk(engine: Any, walk: Walk, scanner: _SandboxPhone | None, timeout: float) -> None:
    started: set[str] = set()

    async def warm(index: int) -> None:
        for account in walk.accounts[index : index + WARM]:
            if account.session_id not in started:
                started.add(account.session_id)
                account.started_at = time.monotonic()
                await engine.start_session(account.session_id)

    for n, account in enumerate(walk.accounts, start=1):
        await warm(n - 1)
        began = time.monotonic()
        try:
            async with asyncio.timeout(timeout):
                await _scan_one(walk, n, account, scanner)
        except TimeoutError:
            account.result = "timed out"
            walk.line(f"  {walk.name(account)}: not linked within {timeout:.0f} s; skipped")
            with contextlib.suppress(Exception):
                await engine.stop_session(account.session_id)
            continue
        account.seconds = time.monotonic() - began
        if account.state is SessionState.CONNECTED:
            account.result = "connected"
            walk.line(f"  ✓ {walk.name(account)} connected  +{account.phone}")
        else:
            account.result = account.state.value
            walk.line(f"  ✗ {walk.name(account)}: {account.state.value}; skipped")


async def _scan_one(walk: Walk, n: int, account: Account, scanner: _SandboxPhone | None) -> None:
    shown = 0
    while not account.linked.is_set():
        if account.qr and account.qr_count != shown and account.state is not SessionState.PAIRING:
            shown = account.qr_count
            walk.show_qr(n, account)
            if scanner is not None:
                await scanner.scan(account.qr, f"6281{7000000 + account.row.line:08d}", walk)
        account.new_qr.clear()
        waits = {
            asyncio.create_task(account.linked.wait()),
            asyncio.create_task(account.new_qr.wait()),
        }
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()


class _SandboxPhone:
    """The sandbox test phone (`POST {sandbox_url}phone/scan`)."""

    def __init__(self, sandbox_url: str) -> None:
        self.url = sandbox_url.rstrip("/") + "/phone/scan"

    async def scan(self, qr: str, phone: str, walk: Walk) -> None:
        import httpx

        try:
            async with httpx.AsyncClient(timeout=10) as client:
                response = await client.post(self.url, json={"qr": qr, "phone": phone})
        except httpx.HTTPError as exc:
            walk.line(f"  test phone unreachable at {self.url}: {exc}")
            return
        if response.status_code >= 400:
            walk.line(f"  test phone: HTTP {response.status_code}; waiting for the next QR")
        else:
            walk.line(f"  test phone {phone} scanned it")
