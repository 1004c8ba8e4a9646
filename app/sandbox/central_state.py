"""The reference central API's memory: event log, account table and fault plan.

Tests read it directly (`app.state.central`) or over HTTP (`/central/...`).
The server may run in another thread than the test, so every read and write
goes through one lock and reads return copies.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

Clock = Callable[[], float]

# What each event sets the account's central status to (the platform's vocabulary,
# docs/SESSIONS.md).
STATUS_AFTER: dict[str, str] = {
    "qr_code_generated": "qr_scanning",
    "session_authenticated": "authenticated",
    "session_ready": "connected",
    "session_disconnected": "disconnected",
    "session_error": "failed",
}

FAULT_KINDS = ("error", "slow", "rate_limit", "refuse")


@dataclass(frozen=True)
class RecordedEvent:
    """One accepted webhook delivery, duplicates included (the oracle for "twice in effect")."""

    seq: int
    event: str
    session_id: str
    workspace_id: int
    data: dict[str, Any]
    event_id: str | None
    timestamp: int
    instance_url: str
    received_at: float
    changed_state: bool
    duplicate: bool

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Rejection:
    """A webhook answered with 401 or 422, kept so tests can see why."""

    status: int
    reason: str
    detail: str
    event_id: str | None
    received_at: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Account:
    """One row of the platform's account table, keyed by session id."""

    session_id: str
    workspace_id: int
    status: str = "disconnected"
    phone_number: str = ""
    expected: bool = False  # listed by accounts/active
    last_event: str = ""
    last_event_id: str | None = None
    last_reason: str = ""
    qr_count: int = 0
    updated_at: float = 0.0

    def effect(self) -> tuple[Any, ...]:
        """The fields an event can change; bookkeeping (ids, times) left out."""
        return (
            self.workspace_id,
            self.status,
            self.phone_number,
            self.expected,
            self.last_event,
            self.last_reason,
            self.qr_count,
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Fault:
    """A misbehaviour for `/api/...` requests, for `count` requests and/or until a time.

    kinds: `error` answers `status` (500 by default); `slow` waits `delay`
    seconds and then answers normally; `rate_limit` answers 429 with
    `Retry-After: retry_after`; `refuse` closes the connection without an answer.
    """

    kind: str
    status: int = 500
    delay: float = 0.0
    retry_after: int = 1
    remaining: int | None = None  # None: no count limit
    until: float | None = None  # clock time; None: no time limit
    hits: int = 0

    def active(self, now: float) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        return self.until is None or now < self.until

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def parse_fault(spec: dict[str, Any], now: float) -> Fault:
    """Build a Fault from the JSON of `POST /central/faults`; ValueError names the bad key."""
    kind = spec.get("kind")
    if kind not in FAULT_KINDS:
        raise ValueError(f"kind must be one of {', '.join(FAULT_KINDS)}")
    count = spec.get("count")
    duration = spec.get("duration")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
        raise ValueError("count must be a whole number of requests, 1 or more")
    if duration is not None and (not isinstance(duration, int | float) or duration <= 0):
        raise ValueError("duration must be a number of seconds above 0")
    status = spec.get("status", 500)
    if not isinstance(status, int) or not 400 <= status <= 599:
        raise ValueError("status must be an HTTP error status (400-599)")
    delay = spec.get("delay", 0.0)
    if not isinstance(delay, int | float) or delay < 0:
        raise ValueError("delay must be a number of seconds, 0 or more")
    retry_after = spec.get("retry_after", 1)
    if not isinstance(retry_after, int) or retry_after < 0:
        raise ValueError("retry_after must be whole seconds, 0 or more")
    return Fault(
        kind=kind,
        status=status,
        delay=float(delay),
        retry_after=retry_after,
        remaining=count,
        until=now + float(duration) if duration is not None else None,
    )


@dataclass
class CentralState:
    """Everything the reference central API knows; safe to use from any thread."""

    clock: Clock = time.time
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _events: list[RecordedEvent] = field(default_factory=list)
    _rejections: list[Rejection] = field(default_factory=list)
    _accounts: dict[str, Account] = field(default_factory=dict)
    _faults: list[Fault] = field(default_factory=list)

    # ------------------------------------------------------------ events

    def record(
        self,
        name: str,
        data: dict[str, Any],
        *,
        event_id: str | None,
        timestamp: int,
        instance_url: str,
    ) -> RecordedEvent:
        """Apply an accepted event to the account table and log it; says if it changed state.

        A replayed event id (a retry whose first answer was lost, or an attacker
        replaying a captured request inside the signature window) is logged as a
        duplicate and changes nothing: idempotency by event id, as receivers should do.
        """
        now = self.clock()
        session_id = str(data["session_id"])
        with self._lock:
            before = self._accounts.get(session_id)
            duplicate = event_id is not None and any(e.event_id == event_id for e in self._events)
            if duplicate and before is not None:
                after = before
            else:
                after = _apply(before, name, data, event_id=event_id, now=now)
                self._accounts[session_id] = after
            changed = before is None or before.effect() != after.effect()
            entry = RecordedEvent(
                seq=len(self._events) + 1,
                event=name,
                session_id=session_id,
                workspace_id=int(data["workspace_id"]),
                data=dict(data),
                event_id=event_id,
                timestamp=timestamp,
                instance_url=instance_url,
                received_at=now,
                changed_state=changed,
                duplicate=duplicate,
            )
            self._events.append(entry)
            return entry

    def reject(self, status: int, reason: str, detail: str, event_id: str | None) -> None:
        with self._lock:
            self._rejections.append(Rejection(status, reason, detail, event_id, self.clock()))

    def events(
        self,
        *,
        event: str | None = None,
        session_id: str | None = None,
        event_id: str | None = None,
        since: int = 0,
    ) -> list[RecordedEvent]:
        """The log, filtered; `since` keeps only entries after that `seq` (a poll that
        asks for what is new does not make the API serialise its whole log)."""
        with self._lock:
            items = self._events[max(0, since) :]
        return [
            e
            for e in items
            if (event is None or e.event == event)
            and (session_id is None or e.session_id == session_id)
            and (event_id is None or e.event_id == event_id)
        ]

    def rejections(self) -> list[Rejection]:
        with self._lock:
            return list(self._rejections)

    # ---------------------------------------------------------- accounts

    def accounts(self) -> list[Account]:
        with self._lock:
            return list(self._accounts.values())

    def account(self, session_id: str) -> Account | None:
        with self._lock:
            return self._accounts.get(session_id)

    def seed(self, account: Account) -> None:
        """Add or replace an account the platform knows (e.g. expected to be connected)."""
        with self._lock:
            self._accounts[account.session_id] = account

    def active(self) -> list[Account]:
        """Accounts the platform expects to be connected."""
        with self._lock:
            return [a for a in self._accounts.values() if a.expected]

    # ------------------------------------------------------------ faults

    def add_fault(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def faults(self) -> list[Fault]:
        now = self.clock()
        with self._lock:
            return [replace(f) for f in self._faults if f.active(now)]

    def take_fault(self) -> Fault | None:
        """The fault that applies to this request (counting it), or None."""
        now = self.clock()
        with self._lock:
            self._faults = [f for f in self._faults if f.active(now)]
            if not self._faults:
                return None
            fault = self._faults[0]
            fault.hits += 1
            if fault.remaining is not None:
                fault.remaining -= 1
            return replace(fault)

    def reset(self) -> None:
        with self._lock:
            self._events.clear()
            self._rejections.clear()
            self._accounts.clear()
            self._faults.clear()


def _apply(
    before: Account | None,
    name: str,
    data: dict[str, Any],
    *,
    event_id: str | None,
    now: float,
) -> Account:
    row = before or Account(session_id=str(data["session_id"]), workspace_id=0)
    row = replace(
        row,
        workspace_id=int(data["workspace_id"]),
        status=STATUS_AFTER[name],
        last_event=name,
        last_event_id=event_id,
        updated_at=now,
    )
    if name == "qr_code_generated":
        row = replace(row, qr_count=int(data["qr_count"]), last_reason="")
    elif name == "session_authenticated":
        row = replace(row, last_reason="")
    elif name == "session_ready":
        # The platform expects a linked account to stay connected from now on.
        row = replace(row, phone_number=str(data["phone_number"]), expected=True, last_reason="")
    elif name == "session_disconnected":
        row = replace(row, last_reason=str(data["reason"]))
    elif name == "session_error":
        row = replace(row, last_reason=str(data["error"]))
    return row
