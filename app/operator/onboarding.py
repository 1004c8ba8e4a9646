"""`OnboardingRun`: one onboarding batch's queue, warm-up plan, progress and results.

One model for both ways to onboard: the console's Onboard view
(`app.ui.onboarding_flow` drives it from Qt) and `pairdesk onboard`
(`app.cli._onboard` drives it on the engine's loop). So both warm up the same
accounts, count the same things and write the same results file.

The accounts are created stopped (`add_accounts(start=False)`); the run then
keeps the current account and the next `WARM - 1` started, so their QRs are
already on screen when staff get to them, and opens no more (an unwatched QR
costs a renderer and the phone user's retries). An account leaves the warm
window as soon as it is scanned (`pairing`), which is when the next one is
started. When scans come faster than a login page boots on a busy machine,
the window follows the pace: it keeps started the accounts staff will reach
within `LEAD` seconds at the pace of the last two scans (at most
`MAX_WARM`), so every page has that long to show its QR; the pages opened
ahead stay open if the pace slows again (they come round in a few scans).
Skipped accounts go to the back of the queue and are stopped until
they come round again; an account given up (the command line's per-account
timeout) leaves the queue for good. Paused time does not count towards the
average.

A warm account whose session ends by itself is started again: running out
of QRs (`qr_limit`) is what an account waiting its turn does, so that is
retried for as long as it takes. A gate that is never retried (a block, an
unreachable proxy: `NO_RETRY_REASONS`) gives the account up at once, with
its reason as the result: restarting a banned account only makes the ban
worse. Any other end (failed, logged out, a start the engine refused)
counts, and after `ATTEMPTS` of them the account is given up with that word
as its result, so a broken account cannot keep the run restarting it.

Rows with a phone can be linked by pairing code instead of QR (`by_code`):
the run then tells its driver to ask for a code (`code_phone`) where it would
start a QR.

A row with a phone must be linked by that phone. When the phone that links
(E.164, normalised) is another one, the account is given up with the result
`wrong phone: expected +A, scanned by +B` and queued for logout
(`take_logouts()`), so the wrong customer's WhatsApp is unlinked at once; the
store keeps the sheet's phone (a different phone never overwrites a stored
one, `app.store.accounts`).

Drivers feed it the engine's events (`apply`) and make exactly the engine
calls that `next_moves()` and `take_logouts()` return.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from app.domain.events import EngineEvent, SessionReady, SessionStateChanged
from app.domain.ids import InvalidIdentifier, normalize_phone
from app.domain.import_rows import ImportRow
from app.domain.models import SessionInfo
from app.domain.states import NO_RETRY_REASONS, Reason, SessionState
from app.operator import text as fmt

WARM = 3  # the current account and the next two: enough at a person's pace
MAX_WARM = 12  # started at once at most, however fast the scans come
LEAD = 3.0  # seconds of scans kept started ahead: a page's boot on a busy desk, with margin
ATTEMPTS = 3  # ends (other than running out of QRs) before an account is given up
CONNECTED = "connected"
SKIPPED = "skipped"
NOT_CONNECTED = "not connected"

_ENDS = (SessionState.FAILED, SessionState.LOGGED_OUT)


def warm_up_pages(rows: int) -> int:
    """Login pages to have booted before a batch of `rows` accounts starts: as many as
    the widest window opens, so the first scans of a fast batch find their QRs there
    (the engine's `warm_up`; the console asks while staff check the sheet)."""
    return max(0, min(rows, MAX_WARM))


def warm_for(pace: float) -> int:
    """How many accounts to keep started when scans come `pace` seconds apart: the
    current one and those staff reach within `LEAD` s, from `WARM` to `MAX_WARM`."""
    ahead = math.ceil(LEAD / pace) if pace > 0 else MAX_WARM
    return max(WARM, min(MAX_WARM, 1 + ahead))


class OnboardingRun:
    """Progress of one batch: queue order, what is started, linked, connected, skipped."""

    def __init__(
        self,
        rows: Sequence[ImportRow],
        sessions: Sequence[SessionInfo],
        *,
        started_at: datetime | None = None,
        by_code: bool = False,
    ) -> None:
        self.started = started_at or fmt.now()
        self.by_code = by_code
        self._phones = {s.session_id: s.phone_number for s in sessions if s.phone_number}
        self.all_rows = list(rows)
        self.rows = [r for r in rows if r.ok]
        self.session_ids = [s.session_id for s in sessions]
        self.order = list(self.session_ids)
        self.connected: dict[str, tuple[datetime, str]] = {}
        self.linked: set[str] = set()
        self.running: set[str] = set()
        self.first_started: dict[str, datetime] = {}
        self.skipped: set[str] = set()
        self.given_up: dict[str, str] = {}  # session id -> its result
        self.paused = False
        self._ids = set(self.session_ids)
        self._ends: dict[str, int] = {}
        self._paused_at: datetime | None = None
        self._paused_total = 0.0
        self.wrong_phone: dict[str, tuple[str, str]] = {}  # session id -> (expected, scanned)
        self._logouts: list[str] = []
        # The pace counts from pressing Start: a first scan soon after it is fast
        # too, so the window widens before the second account's page is needed.
        self._last_link: datetime | None = self.started
        self.warm = WARM  # how many accounts the window keeps started now
        self._kept = WARM  # the widest window so far: what is open within it stays open

    # -------------------------------------------------------------- events

    def apply(self, event: EngineEvent) -> bool:
        """Take in one engine event; True when it concerned an account of this run."""
        sid = getattr(event, "session_id", "")
        if sid not in self._ids:
            return False
        if isinstance(event, SessionReady):
            self.note_connected(sid, event.at, event.phone_number)
        elif not isinstance(event, SessionStateChanged):
            return False
        elif event.state is SessionState.PAIRING:
            self.note_linking(sid, event.at)
        elif event.state is SessionState.CONNECTED:
            self.note_connected(sid, event.at, event.phone_number)
        elif event.state is SessionState.FAILED and event.reason is Reason.QR_LIMIT:
            self.mark_stopped([sid])  # nobody scanned in time: open it again, no end counted
        elif event.state is SessionState.FAILED and event.reason in NO_RETRY_REASONS:
            assert event.reason is not None
            self.running.discard(sid)
            self.give_up(sid, event.reason.value)  # never restarted: retries make it worse
        elif event.state in _ENDS:
            self.note_ended(sid, event.state.value)
        elif event.state is SessionState.STOPPED and sid not in self.linked:
            self.mark_stopped([sid])
        return True

    def note_linking(self, session_id: str, at: datetime | None = None) -> None:
        if session_id not in self._ids or session_id in self.linked:
            return
        self.linked.add(session_id)
        at = at or fmt.now()
        if self._last_link is not None:
            self.warm = warm_for((at - self._last_link).total_seconds())
            self._kept = max(self._kept, self.warm)
        self._last_link = at

    def note_connected(self, session_id: str, at: datetime, phone: str) -> None:
        if session_id not in self._ids or session_id in self.wrong_phone:
            return
        if self._is_wrong_phone(session_id, phone):
            return
        if session_id not in self.connected:
            self.connected[session_id] = (at, phone)
            self.linked.add(session_id)
            self.skipped.discard(session_id)
            self.given_up.pop(session_id, None)  # a late scan still counts

    def _is_wrong_phone(self, session_id: str, phone: str) -> bool:
        """True (and the account given up, its logout queued) when another phone linked it."""
        expected = self._phones.get(session_id, "")
        if not expected or not phone:
            return False  # no phone on the row, or not reported yet (the ready event has it)
        try:
            scanned = normalize_phone(phone)
        except InvalidIdentifier:
            scanned = phone
        if scanned == expected:
            return False
        self.wrong_phone[session_id] = (expected, scanned)
        self.connected.pop(session_id, None)  # a connected event may have come first
        self.linked.discard(session_id)
        self.running.discard(session_id)
        self.given_up[session_id] = (
            f"wrong phone: expected {fmt.phone(expected)}, scanned by {fmt.phone(scanned)}"
        )
        self._logouts.append(session_id)
        return True

    def take_logouts(self) -> list[str]:
        """Sessions the driver must log out now (linked by the wrong phone); each once."""
        out, self._logouts = self._logouts, []
        return out

    def note_ended(self, session_id: str, result: str) -> None:
        """The session ended by itself (or would not start) before connecting; `result`
        is the word for the results file if that makes the run give it up."""
        if session_id not in self._ids or session_id in self.connected:
            return
        if session_id in self.wrong_phone:
            return  # its logout (ours) ends it: the result stays "wrong phone"
        self.running.discard(session_id)
        self.linked.discard(session_id)  # a scan that did not take: it needs a new QR
        self._ends[session_id] = self._ends.get(session_id, 0) + 1
        if self._ends[session_id] >= ATTEMPTS:
            self.give_up(session_id, result)

    def code_phone(self, session_id: str) -> str:
        """The phone to ask a pairing code for when this account is started, or '' (a QR)."""
        return self._phones.get(session_id, "") if self.by_code else ""

    def skip(self, session_id: str) -> None:
        """Send an account to the back of the queue (it is stopped until it comes round)."""
        if session_id in self.order and session_id not in self.linked:
            self.order.remove(session_id)
            self.order.append(session_id)
            self.skipped.add(session_id)

    def give_up(self, session_id: str, result: str) -> None:
        """Take an account out of the queue for good; `result` goes in the results file."""
        if session_id in self._ids and session_id not in self.connected:
            self.given_up[session_id] = result
            self.linked.discard(session_id)

    def set_paused(self, paused: bool, at: datetime | None = None) -> None:
        at = at or fmt.now()
        if paused and not self.paused:
            self._paused_at = at
        elif not paused and self.paused and self._paused_at is not None:
            self._paused_total += (at - self._paused_at).total_seconds()
            self._paused_at = None
        self.paused = paused

    # ---------------------------------------------------------------- plan

    def open_ids(self) -> list[str]:
        """Accounts still to scan, in queue order."""
        return [s for s in self.order if s not in self.linked and s not in self.given_up]

    def plan(self) -> tuple[list[str], list[str]]:
        """(start these, stop these) so exactly the warm window is running."""
        open_ids = [] if self.paused else self.open_ids()
        want = set(open_ids[: self.warm])
        keep = set(open_ids[: self._kept])
        start = [s for s in self.order if s in want and s not in self.running]
        stop = [s for s in self.order if s in self.running - keep and s not in self.linked]
        return start, stop

    def mark_started(self, ids: Sequence[str], at: datetime | None = None) -> None:
        at = at or fmt.now()
        for sid in ids:
            self.first_started.setdefault(sid, at)
        self.running.update(ids)

    def mark_stopped(self, ids: Sequence[str]) -> None:
        self.running.difference_update(ids)

    def next_moves(self, at: datetime | None = None) -> tuple[list[str], list[str]]:
        """`plan()`, recorded as done: the caller makes exactly these start and stop calls."""
        start, stop = self.plan()
        self.mark_stopped(stop)
        self.mark_started(start, at)
        return start, stop

    @property
    def done(self) -> bool:
        """Every account is connected."""
        return bool(self.session_ids) and len(self.connected) == len(self.session_ids)

    @property
    def finished(self) -> bool:
        """Nothing is left to wait for: every account is connected or given up."""
        return all(s in self.connected or s in self.given_up for s in self.session_ids)

    # ------------------------------------------------------------ progress

    def result_of(self, session_id: str) -> str:
        """The account's word in the results file: connected, skipped, timed out, failed…"""
        if session_id in self.connected:
            return CONNECTED
        if session_id in self.given_up:
            return self.given_up[session_id]
        return SKIPPED if session_id in self.skipped else NOT_CONNECTED

    def active_seconds(self, at: datetime | None = None) -> float:
        at = at or fmt.now()
        paused = self._paused_total
        if self.paused and self._paused_at is not None:
            paused += (at - self._paused_at).total_seconds()
        return max(0.0, (at - self.started).total_seconds() - paused)

    def summary(self, at: datetime | None = None) -> str:
        n, total = len(self.connected), len(self.session_ids)
        avg = self.active_seconds(at) / n if n else 0.0
        left = total - n - len(self.given_up)
        skipped = len(self.skipped - self.connected.keys()) + len(self.given_up)
        parts = [f"{n} / {total} connected", f"{skipped} skipped"]
        if n:
            parts.append(f"avg {fmt.duration(avg)} per account")
        if n and left:
            parts.append(f"eta {fmt.duration(avg * left)}")
        if self.paused:
            parts.append("paused")
        elif self.session_ids and self.finished:
            parts.append("done")
        return "  ·  ".join(parts)

    def row_results(self) -> dict[int, str]:
        """Sheet row number -> result, for the rows whose account is settled (connected or
        given up, e.g. "wrong phone: ..."); what the console shows in the row."""
        out = {}
        for row, sid in zip(self.rows, self.session_ids, strict=False):
            if sid in self.connected or sid in self.given_up:
                out[row.line] = self.result_of(sid)
        return out

    def results(self) -> list[dict[str, str]]:
        """Every row of the file, in file order, for `app.domain.import_rows.results_csv`."""
        by_line = dict(zip((r.line for r in self.rows), self.session_ids, strict=False))
        out = []
        for row in self.all_rows:
            sid = by_line.get(row.line, "")
            at, phone = self.connected.get(sid, (None, ""))
            if not row.ok:
                result = f"rejected: {row.error.split(': ', 1)[-1]}"
            else:
                result = self.result_of(sid)
            begun = self.first_started.get(sid, self.started)
            secs = f"{(at - begun).total_seconds():.0f}" if at else ""
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
