"""`OnboardingRun`: one onboarding batch's queue, warm-up plan and progress (no Qt).

The accounts are created stopped (`add_accounts(start=False)`); the run then
keeps the current account and the next `WARM - 1` started, so their QRs are
already on screen when staff get to them, and opens no more (an unwatched QR
costs a renderer and the phone user's retries). An account leaves the warm
window as soon as it is scanned (`pairing`), which is when the next one is
started. Skipped accounts go to the back of the queue and are stopped until
they come round again. Paused time does not count towards the average.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from app.domain.import_rows import ImportRow
from app.domain.models import SessionInfo
from app.ui import fmt

WARM = 3  # the current account and the next two


class OnboardingRun:
    """Progress of one batch: queue order, what is started, linked, connected, skipped."""

    def __init__(
        self,
        rows: Sequence[ImportRow],
        sessions: Sequence[SessionInfo],
        *,
        started_at: datetime | None = None,
    ) -> None:
        self.started = started_at or fmt.now()
        self.all_rows = list(rows)
        self.rows = [r for r in rows if r.ok]
        self.session_ids = [s.session_id for s in sessions]
        self.order = list(self.session_ids)
        self.connected: dict[str, tuple[datetime, str]] = {}
        self.linked: set[str] = set()
        self.running: set[str] = set()
        self.first_started: dict[str, datetime] = {}
        self.skipped: set[str] = set()
        self.paused = False
        self._paused_at: datetime | None = None
        self._paused_total = 0.0

    # -------------------------------------------------------------- events

    def note_linking(self, session_id: str) -> None:
        if session_id in self.session_ids:
            self.linked.add(session_id)

    def note_connected(self, session_id: str, at: datetime, phone: str) -> None:
        if session_id in self.session_ids and session_id not in self.connected:
            self.connected[session_id] = (at, phone)
            self.linked.add(session_id)
            self.skipped.discard(session_id)

    def skip(self, session_id: str) -> None:
        """Send an account to the back of the queue (it is stopped until it comes round)."""
        if session_id in self.order and session_id not in self.linked:
            self.order.remove(session_id)
            self.order.append(session_id)
            self.skipped.add(session_id)

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
        return [s for s in self.order if s not in self.linked]

    def plan(self) -> tuple[list[str], list[str]]:
        """(start these, stop these) so exactly the warm window is running."""
        want = set() if self.paused else set(self.open_ids()[:WARM])
        start = [s for s in self.order if s in want and s not in self.running]
        stop = [s for s in self.order if s in self.running - want and s not in self.linked]
        return start, stop

    def mark_started(self, ids: Sequence[str], at: datetime | None = None) -> None:
        at = at or fmt.now()
        for sid in ids:
            self.first_started.setdefault(sid, at)
        self.running.update(ids)

    def mark_stopped(self, ids: Sequence[str]) -> None:
        self.running.difference_update(ids)

    @property
    def done(self) -> bool:
        return bool(self.session_ids) and len(self.connected) == len(self.session_ids)

    # ------------------------------------------------------------ progress

    def active_seconds(self, at: datetime | None = None) -> float:
        at = at or fmt.now()
        paused = self._paused_total
        if self.paused and self._paused_at is not None:
            paused += (at - self._paused_at).total_seconds()
        return max(0.0, (at - self.started).total_seconds() - paused)

    def summary(self, at: datetime | None = None) -> str:
        n, total = len(self.connected), len(self.session_ids)
        avg = self.active_seconds(at) / n if n else 0.0
        left = total - n
        parts = [f"{n} / {total} connected", f"{len(self.skipped)} skipped"]
        if n:
            parts.append(f"avg {fmt.duration(avg)} per account")
        if n and left:
            parts.append(f"eta {fmt.duration(avg * left)}")
        if self.paused:
            parts.append("paused")
        elif self.done:
            parts.append("done")
        return "  ·  ".join(parts)

    def results(self) -> list[dict[str, str]]:
        """Every row of the file, in file order: its result and phone number."""
        by_line = dict(zip((r.line for r in self.rows), self.session_ids, strict=False))
        out = []
        for row in self.all_rows:
            sid = by_line.get(row.line, "")
            at, phone = self.connected.get(sid, (None, "")) if sid else (None, "")
            if not row.ok:
                result = f"rejected: {row.error.split(': ', 1)[-1]}"
            elif at is not None:
                result = "connected"
            elif sid in self.skipped:
                result = "skipped"
            else:
                result = "not connected"
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
