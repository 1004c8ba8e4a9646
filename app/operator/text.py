"""Small text formatters shared by the console's models and views (no Qt).

Everything a support agent reads as a number goes through here, so ages,
durations, sizes and phone numbers look the same on every screen.
"""

from __future__ import annotations

from datetime import UTC, datetime

from app.domain.states import SessionState

#: Operator-facing words for each state (never colour alone).
STATE_LABELS: dict[SessionState, str] = {
    SessionState.STOPPED: "stopped",
    SessionState.STARTING: "starting",
    SessionState.QR: "waiting for scan",
    SessionState.QR_IDLE: "QR idle",
    SessionState.PAIRING: "linking",
    SessionState.CONNECTED: "connected",
    SessionState.DISCONNECTED: "disconnected",
    SessionState.LOGGED_OUT: "logged out",
    SessionState.FAILED: "failed",
}

#: Filter-chip groups: chip name -> states it covers, in display order.
STATE_GROUPS: dict[str, frozenset[SessionState]] = {
    "connected": frozenset({SessionState.CONNECTED}),
    "waiting": frozenset(
        {SessionState.QR, SessionState.QR_IDLE, SessionState.STARTING, SessionState.PAIRING}
    ),
    "disconnected": frozenset({SessionState.DISCONNECTED, SessionState.STOPPED}),
    "failed": frozenset({SessionState.FAILED}),
    "logged out": frozenset({SessionState.LOGGED_OUT}),
}

#: Order used when sorting by state: trouble first.
STATE_SORT: dict[SessionState, int] = {
    SessionState.FAILED: 0,
    SessionState.LOGGED_OUT: 1,
    SessionState.DISCONNECTED: 2,
    SessionState.QR_IDLE: 3,
    SessionState.QR: 4,
    SessionState.PAIRING: 5,
    SessionState.STARTING: 6,
    SessionState.STOPPED: 7,
    SessionState.CONNECTED: 8,
}


def now() -> datetime:
    return datetime.now(UTC)


def age_seconds(then: datetime | None, at: datetime | None = None) -> float | None:
    """Seconds since `then`, or None when there is no `then`."""
    if then is None:
        return None
    return max(0.0, ((at or now()) - then).total_seconds())


def duration(seconds: float | None) -> str:
    """Compact duration: '42 s', '3 min', '2 h 05', '3 d 4 h'; '' for None."""
    if seconds is None:
        return ""
    s = int(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60:02d}"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def countdown(seconds: float) -> str:
    """'0:17' style countdown."""
    s = max(0, int(seconds + 0.999))
    return f"{s // 60}:{s % 60:02d}"


def size(num_bytes: int | float) -> str:
    """'512 MiB', '9.1 GiB'; '' for 0."""
    if not num_bytes:
        return ""
    value = float(num_bytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit != "GiB" else f"{value:.1f} GiB"
        value /= 1024
    return f"{value:.1f} TiB"  # pragma: no cover


def phone(digits: str) -> str:
    """'+62 811 2233 4410' from '6281122334410'; other text is returned unchanged."""
    d = "".join(ch for ch in digits if ch.isdigit())
    if len(d) < 8:
        return digits
    head, rest = d[:2], d[2:]
    parts = [rest[:3]] + [rest[i : i + 4] for i in range(3, len(rest), 4)]
    return "+" + " ".join([head, *parts])


def clock(at: datetime | None) -> str:
    """Local wall-clock time 'HH:MM:SS'."""
    return at.astimezone().strftime("%H:%M:%S") if at else ""
