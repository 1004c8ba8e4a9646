"""`pairdesk onboard FILE`: add accounts from a CSV/XLSX sheet and walk through the scans.

Every row is validated first (`app.domain.import_rows`) and each rejected row
is printed with its reason. A file that cannot be used at all, or has no
valid row, creates nothing. With rejected rows the valid ones are created
only after confirmation (`--yes`, or answering "y" at the prompt).

The walk is the one the console's Onboard view runs: the shared model
`app.operator.onboarding.OnboardingRun` decides which accounts are started
(they are created stopped; then the current account and the next two, and
further ahead while scans come faster than pages boot, up to 12, so the next
QR is already there when one is scanned), what counts as linked or
given up, and what the results say. This module shows it in the terminal:
each account's QR as terminal art with a progress line, and one line per
outcome. `--by-code` links the rows that have a phone by pairing code instead
(the code is printed large, to read out to the customer). An account that
must confirm with its passkey is opened in a window on this screen; a block
or an unreachable proxy is printed with what to do, and the account given
up. `--phone-scan-sandbox` has the sandbox test phone scan each QR (or type
each code) for demos and tests; an account not linked within `--timeout` is
given up. At
the end, or on Ctrl+C, the results CSV gets one line per row of the file
with its result and phone number (no file when nothing was created).

A second run on the same sheet continues the first instead of creating its
accounts again; the results file (`--results PATH`, by default
`FILE.results.csv`) is what it continues from, since it holds each row's
session id. When that file exists:

- a row connected then whose account is still stored is not walked: it is
  printed as done and its line is copied into the new results as it was;
- a row not linked then (skipped, timed out, given up...) is walked again
  with its stored account, or with a new one if the account was removed;
- a rejected row stays rejected (the sheet is the same), and no confirmation
  is asked again: the first run's was given;
- when every valid row is connected, nothing is started or written.

The file must hold exactly the sheet's rows (`read_results`). One that
cannot be read, or is another sheet's (or the sheet was edited since), stops
the run before anything is created and is left as it is: guessing would
create accounts twice. `--results NEW_PATH` (a file that does not exist yet)
starts afresh, creating every valid row's account again; to add rows to a
sheet already run, put them in a new sheet. Before the new results are
written, an existing results file is copied beside it under the next free
number (`FILE.results.1.csv`, `.2.csv`...), and the new one replaces it only
once it is whole, so no run's record is lost. The results folder is checked
before anything is created, since accounts without a results file would be
created again by the next run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TextIO

from app.cli import UserError, load_settings
from app.cli._onboard_files import check_results_path, read_earlier, read_rows, write_results
from app.config import Settings
from app.domain.events import (
    EngineEvent,
    PairingCodeIssued,
    QrIssued,
    SessionError,
    SessionStateChanged,
)
from app.domain.import_rows import (
    EarlierResult,
    ImportRow,
)
from app.domain.models import SessionInfo
from app.domain.states import SessionState
from app.engine.api import Engine, EngineError
from app.operator import text as fmt
from app.operator.onboarding import CONNECTED, OnboardingRun
from app.sandbox.phone_client import AsyncTestPhone, PhoneError, PhoneUnreachable

TIMED_OUT = "timed out"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="CSV or XLSX: workspace_id,label,phone")
    parser.add_argument(
        "--results",
        metavar="PATH",
        help="results CSV (default: FILE.results.csv beside the file); an earlier run's "
        "results there are continued and kept under a number (FILE.results.1.csv); a PATH "
        "with no file starts afresh",
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
        "--by-code",
        dest="by_code",
        action="store_true",
        help="link rows that have a phone by pairing code instead of QR",
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
    for row in good:
        if row.warning:
            print(f"  warning   {row.warning}", file=out)
    if not good:
        raise UserError(f"{path.name}: no valid row ({len(bad)} rejected); nothing was created")
    results = Path(args.results) if args.results else path.with_name(path.name + ".results.csv")
    check_results_path(results)  # before anything is created: the results must be kept
    earlier = read_earlier(results, path, rows)
    print(f"{path.name}: {len(good)} row(s) ready, {len(bad)} rejected", file=out)
    if earlier:  # its rejected rows were confirmed then (a results file means they were)
        linked = sum(e.result == CONNECTED for e in earlier.values())
        others = f", {len(good) - linked} to link again" if len(good) > linked else ""
        print(
            f"continuing the earlier run in {results}: {linked} row(s) connected then{others}",
            file=out,
        )
    elif bad and not args.yes and not _confirm(f"Create the {len(good)} valid account(s)? [y/N] "):
        print("Nothing was created. Fix the rows above, or re-run with --yes.", file=out)
        return 2
    settings = load_settings(args, instances=args.instances, time_scale=args.time_scale)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    walk = Walk(
        rows, out=out, qr_art=args.qr_art, invert=args.invert, by_code=args.by_code, earlier=earlier
    )
    try:
        asyncio.run(onboard(settings, walk, sandbox_scan=args.sandbox_scan, timeout=args.timeout))
    finally:
        if walk.nothing_left:
            print(f"results: {results} (unchanged)", file=out)
        if walk.run is not None:
            kept = write_results(results, walk.results())
            if kept is not None:
                print(f"the earlier results are kept in {kept}", file=out)
            print(f"results: {results}  ({walk.summary()})", file=out)
    return 0 if walk.done else 1


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        print("Some rows were rejected; pass --yes to create the valid ones.", file=sys.stdout)
        return False
    try:
        return input(question).strip().lower() in ("y", "yes")
    except EOFError:
        return False


class Walk:
    """What the terminal shows of one run: each account's QR, progress, one line per outcome.

    `changed` is set whenever the run or a QR changed, to wake the account's turn.
    """

    def __init__(
        self,
        rows: Sequence[ImportRow],
        *,
        out: TextIO,
        qr_art: bool,
        invert: bool,
        by_code: bool = False,
        earlier: Mapping[int, EarlierResult] | None = None,
    ):
        self.rows = list(rows)
        self.by_code = by_code
        self.earlier = dict(earlier or {})  # an earlier run's result of each row, by row
        self.kept: dict[int, dict[str, str]] = {}  # its lines for the rows not walked again
        self.nothing_left = False  # every valid row was connected in the earlier run
        self.passkeys: list[str] = []  # accounts that must confirm in a window, in order
        self.logouts: set[asyncio.Task[None]] = set()  # wrong-phone logouts under way
        self._codes: dict[str, PairingCodeIssued] = {}
        self.run: OnboardingRun | None = None
        self.changed = asyncio.Event()
        self._row_of: dict[str, ImportRow] = {}
        self._qr: dict[str, tuple[str, int]] = {}  # session id -> its newest QR and its number
        self._out = out
        self._qr_art = qr_art
        self._invert = invert

    def begin(
        self, sessions: Mapping[int, SessionInfo], kept: Iterable[EarlierResult] = ()
    ) -> OnboardingRun:
        """The accounts exist now (`sessions`: each valid row's, by row): walk them, but
        for the rows `kept` from the earlier run, whose lines go into the results as they are."""
        self.kept = {e.line: e.cells for e in kept}
        rows = [r for r in self.rows if r.line not in self.kept]
        walked = [sessions[r.line] for r in rows if r.ok]
        self.run = OnboardingRun(rows, walked, by_code=self.by_code)
        self._row_of = dict(zip(self.run.session_ids, self.run.rows, strict=True))
        return self.run

    def results(self) -> list[dict[str, str]]:
        """Every row of the sheet in file order: this run's results and the kept lines."""
        lines = self._begun().results() + list(self.kept.values())
        return sorted(lines, key=lambda line: int(line["row"]))

    def summary(self) -> str:
        text = self._begun().summary()
        return f"{text}  ·  {len(self.kept)} connected earlier" if self.kept else text

    @property
    def done(self) -> bool:
        """Every valid row is connected (in this run or the earlier one)."""
        return self.nothing_left or (self.run is not None and self.run.done)

    def note(self, event: EngineEvent) -> bool:
        """Take in one engine event; True when the run changed (its moves may have too)."""
        sid = getattr(event, "session_id", "")
        if self.run is None or sid not in self._row_of:
            return False
        if isinstance(event, QrIssued):
            self._qr[sid] = (event.qr, event.qr_count)
            self._codes.pop(sid, None)
            self.changed.set()
        elif isinstance(event, PairingCodeIssued):
            self._codes[sid] = event
            self.changed.set()
        elif isinstance(event, SessionError):
            self.line(f"  {self.name(sid)}: {event.message}")
        elif isinstance(event, SessionStateChanged) and fmt.reason_message(event.reason):
            self.line(f"  {self.name(sid)}: {fmt.reason_message(event.reason)}")
            if event.state is SessionState.PASSKEY_REQUIRED:
                self.passkeys.append(sid)
        if not self.run.apply(event):
            return False
        self.changed.set()
        return True

    def _begun(self) -> OnboardingRun:
        assert self.run is not None, "begin() first"
        return self.run

    def qr_to_scan(self, session_id: str) -> str:
        """The account's newest QR, or '' when it has none or was just scanned."""
        if session_id in self._begun().linked:
            return ""
        return self._qr.get(session_id, ("", 0))[0]

    def code_to_enter(self, session_id: str) -> PairingCodeIssued | None:
        """The account's newest pairing code, or None (none asked, or just linked)."""
        if session_id in self._begun().linked:
            return None
        return self._codes.get(session_id)

    def show_code(self, n: int, code: PairingCodeIssued) -> None:
        run = self._begun()
        self.line("")
        self.line(
            f"[{n}/{len(run.session_ids)}] {self.name(code.session_id)}  code #{code.code_count}"
        )
        self.line(f"  {run.summary()}")
        self.line(f"  on the phone {fmt.phone(code.phone)}: WhatsApp > Linked devices >")
        self.line("  Link a device > Link with phone number instead, then type")
        self.line("")
        self.line(f"      {'  '.join(code.display_code)}")
        self.line("")
        self.line(f"  a new code follows in {code.expires_in:.0f} s if it is not used")

    def name(self, session_id: str) -> str:
        row = self._row_of[session_id]
        return f"{row.label or session_id} (ws {row.workspace_raw})"

    def test_phone_number(self, session_id: str) -> str:
        """The sandbox phone that scans: the row's own phone if it has one (any other
        phone is the wrong customer), else a made-up one per row."""
        spec = self._row_of[session_id].spec
        if spec is not None and spec.phone_number:
            return spec.phone_number
        return f"6281{7000000 + self._row_of[session_id].line:08d}"

    def line(self, text: str) -> None:
        print(text, file=self._out, flush=True)

    def show_qr(self, n: int, session_id: str) -> None:
        run = self._begun()
        qr, count = self._qr[session_id]
        self.line("")
        self.line(f"[{n}/{len(run.session_ids)}] {self.name(session_id)}  QR #{count}")
        self.line(f"  {run.summary()}")
        if self._qr_art:
            from app.cli._serve import qr_art

            self._out.write(qr_art(qr, invert=self._invert))
            self._out.flush()
        else:
            self.line(f"  {qr}")

    def outcome(self, session_id: str) -> None:
        run = self._begun()
        result = run.result_of(session_id)
        if result == CONNECTED:
            phone = run.connected[session_id][1]
            self.line(f"  ✓ {self.name(session_id)} connected  +{phone}")
        else:
            self.line(f"  ✗ {self.name(session_id)}: {result}; skipped")


async def onboard(settings: Settings, walk: Walk, *, sandbox_scan: bool, timeout: float) -> None:
    from app.bootstrap import open_engine
    from app.engine.api import AccountSpec

    engine: Engine = open_engine(settings)
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
        stored = {s.session_id: s for s in await engine.list_sessions()} if walk.earlier else {}
        kept, again, create = plan_rows(walk, stored)
        if not again and not create:
            walk.line("every valid row was connected in the earlier run; nothing to do")
            walk.nothing_left = True
            return
        specs: list[AccountSpec] = [r.spec for r in create if r.spec]
        try:
            created = await engine.add_accounts(specs, start=False) if specs else []
        except EngineError as exc:
            raise UserError(f"nothing was created: {exc}") from None
        sessions = {**again, **dict(zip((r.line for r in create), created, strict=True))}
        run = walk.begin(sessions, kept)
        did = [f"created {len(created)} account(s)"] if created or not again else []
        if again:
            did.append(f"{len(again)} account(s) of the earlier run to link again")
        walk.line(f"{', '.join(did)}; scan each QR with the customer's phone")
        phone = None
        if sandbox_scan:
            if not engine.sandbox_url:
                raise UserError("--phone-scan-sandbox needs the sandbox (provider_url empty)")
            phone = AsyncTestPhone(engine.sandbox_url)
        try:
            await _walk_until_stopped(engine, events, walk, run, phone, timeout, stop)
        finally:
            if phone is not None:
                await phone.aclose()
    finally:
        walk.line("stopping every instance...")
        await engine.aclose()


def plan_rows(
    walk: Walk, stored: Mapping[str, SessionInfo]
) -> tuple[list[EarlierResult], dict[int, SessionInfo], list[ImportRow]]:
    """(kept, again, create): the valid rows connected in the earlier run whose account
    is still stored (not walked); those not linked then whose account is (walked again
    with it, by row); and those with no stored account (created: all of them on a first
    run, or the account was removed since)."""
    kept: list[EarlierResult] = []
    again: dict[int, SessionInfo] = {}
    create: list[ImportRow] = []
    for row in walk.rows:
        before = walk.earlier.get(row.line)
        info = stored.get(before.session_id) if before is not None else None
        if row.spec is None:
            continue
        if before is None or info is None:
            if before is not None:
                walk.line(
                    f"  {_named(row)}: its account {before.session_id} is no longer stored; "
                    "creating a new one"
                )
            create.append(row)
        elif info.workspace_id != row.spec.workspace_id:  # a hand-edited results file
            raise UserError(
                f"row {row.line}: account {info.session_id} is in workspace "
                f"{info.workspace_id}, the sheet says {row.workspace_raw}; nothing was "
                "created. Pass --results NEW_PATH to start afresh"
            )
        elif before.result == CONNECTED:
            kept.append(before)
            walk.line(f"  ✓ {_named(row)} connected in the earlier run")
        else:
            again[row.line] = info
    return kept, again, create


def _named(row: ImportRow) -> str:
    return f"{row.label or 'row ' + str(row.line)} (ws {row.workspace_raw})"


async def _walk_until_stopped(
    engine: Engine,
    events: AsyncIterator[EngineEvent],
    walk: Walk,
    run: OnboardingRun,
    phone: AsyncTestPhone | None,
    timeout: float,
    stop: asyncio.Event,
) -> None:
    async with asyncio.TaskGroup() as group:
        follower = group.create_task(_follow(events, engine, walk, run))
        walking = group.create_task(_walk(engine, walk, run, phone, timeout))
        stopping = group.create_task(stop.wait())
        await asyncio.wait({walking, stopping}, return_when=asyncio.FIRST_COMPLETED)
        for task in (follower, walking, stopping):
            task.cancel()
    if walk.logouts:  # wrong-phone logouts finish before the engine closes
        await asyncio.gather(*walk.logouts, return_exceptions=True)
    if stop.is_set():
        walk.line("stopped by the operator; writing the results so far")


async def _follow(
    events: AsyncIterator[EngineEvent], engine: Engine, walk: Walk, run: OnboardingRun
) -> None:
    """Feed the run every event, and make the engine calls its moves ask for."""
    await _move(engine, walk, run)
    async for event in events:
        if walk.note(event):
            await _move(engine, walk, run)
        while walk.passkeys:
            await _open_window(engine, walk, walk.passkeys.pop(0))


async def _open_window(engine: Engine, walk: Walk, session_id: str) -> None:
    """The passkey can only be confirmed in a window: open one on this screen."""
    try:
        await engine.open_window(session_id)
    except EngineError as exc:
        walk.line(f"  {walk.name(session_id)}: could not open a window: {exc}")
    else:
        walk.line(
            f"  {walk.name(session_id)}: opened in a window on this screen; have the customer "
            "confirm with the passkey on their phone"
        )


async def _logout(engine: Engine, walk: Walk, session_id: str, result: str) -> None:
    try:
        await engine.logout_session(session_id)
    except EngineError as exc:
        walk.line(f"  ✗ {walk.name(session_id)}: {result}; could not log it out: {exc}")
    else:
        walk.line(f"  ✗ {walk.name(session_id)}: {result}; logged out")


async def _move(engine: Engine, walk: Walk, run: OnboardingRun) -> None:
    """Start and stop sessions until exactly the run's warm window is running."""
    while True:
        for sid in run.take_logouts():  # linked by the wrong phone: unlink it at once
            # A task of its own: the walk may end (and cancel this follower) meanwhile;
            # the logout must still happen before the engine closes.
            task = asyncio.ensure_future(_logout(engine, walk, sid, run.result_of(sid)))
            walk.logouts.add(task)
        start, stop = run.next_moves()
        if not start and not stop:
            return
        for sid in stop:
            with contextlib.suppress(EngineError):  # it is given up or skipped anyway
                await engine.stop_session(sid)
        for sid in start:
            phone = run.code_phone(sid)  # by phone number: asking for a code opens it
            try:
                if phone:
                    await engine.request_pairing_code(sid, phone)
                else:
                    await engine.start_session(sid)
            except EngineError as exc:
                walk.line(f"  {walk.name(sid)} did not start: {exc}")
                run.note_ended(sid, "not started")
                walk.changed.set()


async def _walk(
    engine: Engine,
    walk: Walk,
    run: OnboardingRun,
    phone: AsyncTestPhone | None,
    timeout: float,
) -> None:
    """Each account's turn in queue order: its QRs until it is connected or given up."""
    for n, sid in enumerate(list(run.order), start=1):
        try:
            async with asyncio.timeout(timeout):
                await _turn(walk, run, n, sid, phone)
        except TimeoutError:
            run.give_up(sid, TIMED_OUT)
            walk.line(f"  {walk.name(sid)}: not linked within {timeout:.0f} s; skipped")
            await _move(engine, walk, run)
            continue
        walk.outcome(sid)


async def _turn(
    walk: Walk, run: OnboardingRun, n: int, session_id: str, phone: AsyncTestPhone | None
) -> None:
    shown = ""
    while True:
        walk.changed.clear()  # before reading: a change from here on wakes the wait below
        if session_id in run.connected or session_id in run.given_up:
            return
        code = walk.code_to_enter(session_id)
        if code is not None and code.code != shown:
            shown = code.code
            walk.show_code(n, code)
            if phone is not None:
                await _enter(walk, phone, code)
        qr = "" if code is not None else walk.qr_to_scan(session_id)
        if qr and qr != shown:
            shown = qr
            walk.show_qr(n, session_id)
            if phone is not None:
                await _scan(walk, phone, qr, walk.test_phone_number(session_id))
        await walk.changed.wait()


async def _enter(walk: Walk, phone: AsyncTestPhone, code: PairingCodeIssued) -> None:
    try:
        await phone.pair(code.code, code.phone)
    except PhoneUnreachable as exc:
        walk.line(f"  {exc}")
    except PhoneError as exc:
        walk.line(f"  test phone: HTTP {exc.status}; waiting for the next code")
    else:
        walk.line(f"  test phone {code.phone} typed the code")


async def _scan(walk: Walk, phone: AsyncTestPhone, qr: str, number: str) -> None:
    try:
        await phone.scan(qr, number)
    except PhoneUnreachable as exc:
        walk.line(f"  {exc}")
    except PhoneError as exc:
        walk.line(f"  test phone: HTTP {exc.status}; waiting for the next QR")
    else:
        walk.line(f"  test phone {number} scanned it")
