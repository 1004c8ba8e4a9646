"""Small text formatters shared by the console's models and views (no Qt).

Everything a support agent reads as a number goes through here, so ages,
durations, sizes and phone numbers look the same on every screen.
"""

from __future__ import annotations

from datetime import UTC, datetime

from app.domain.states import Reason, SessionState

#: Operator-facing words for each state (never colour alone).
STATE_LABELS: dict[SessionState, str] = {
    SessionState.STOPPED: "stopped",
    SessionState.STARTING: "starting",
    SessionState.QR: "waiting for scan",
    SessionState.QR_IDLE: "QR idle",
    SessionState.PAIRING: "linking",
    SessionState.PASSKEY_REQUIRED: "passkey needed",
    SessionState.CONNECTED: "connected",
    SessionState.DISCONNECTED: "disconnected",
    SessionState.LOGGED_OUT: "logged out",
    SessionState.FAILED: "failed",
}

#: Filter-chip groups: chip name -> states it covers, in display order.
STATE_GROUPS: dict[str, frozenset[SessionState]] = {
    "connected": frozenset({SessionState.CONNECTED}),
    "waiting": frozenset(
        {
            SessionState.QR,
            SessionState.QR_IDLE,
            SessionState.STARTING,
            SessionState.PAIRING,
            SessionState.PASSKEY_REQUIRED,
        }
    ),
    "disconnected": frozenset({SessionState.DISCONNECTED, SessionState.STOPPED}),
    "failed": frozenset({SessionState.FAILED}),
    "logged out": frozenset({SessionState.LOGGED_OUT}),
}

#: Order used when sorting by state: trouble first.
STATE_SORT: dict[SessionState, int] = {
    SessionState.FAILED: 0,
    SessionState.PASSKEY_REQUIRED: 1,
    SessionState.LOGGED_OUT: 2,
    SessionState.DISCONNECTED: 3,
    SessionState.QR_IDLE: 4,
    SessionState.QR: 5,
    SessionState.PAIRING: 6,
    SessionState.STARTING: 7,
    SessionState.STOPPED: 8,
    SessionState.CONNECTED: 9,
}

#: What each gate of the real site means for the operator and what to do about it
#: (docs/SESSIONS.md, "Gates"). The engine sends the same words to the platform
#: (`session_error.message`) and the console shows them on the tile, in the grid's
#: tooltip and in focus mode.
REASON_MESSAGES: dict[Reason, str] = {
    Reason.PASSKEY_REQUIRED: (
        "WhatsApp asks this account to confirm the new device with its passkey. "
        "Click \u201cOpen in a window\u201d and have the customer confirm with their "
        "phone (the passkey prompt offers to use a phone); the session connects as "
        "soon as they do."
    ),
    Reason.PROXYBLOCK: (
        "WhatsApp refuses connections from this account's network address (PROXYBLOCK): "
        "its proxy, or this machine's address, is blocked. Give the account another "
        "proxy, then restart it. pairdesk does not retry by itself: every attempt from a "
        "blocked address makes the block last longer."
    ),
    Reason.TOS_BLOCK: (
        "WhatsApp has banned this account for breaking its terms of service (TOS_BLOCK). "
        "It cannot be linked until the ban is lifted: the owner must request a review in "
        "the WhatsApp app. Do not restart the session meanwhile; each attempt counts "
        "against the account."
    ),
    Reason.SMB_TOS_BLOCK: (
        "WhatsApp has banned this WhatsApp Business account (SMB_TOS_BLOCK). It cannot "
        "be linked until the ban is lifted: the owner must request a review in the "
        "WhatsApp Business app. Do not restart the session meanwhile."
    ),
    Reason.DEPRECATED_VERSION: (
        "WhatsApp no longer accepts this browser's version (DEPRECATED_VERSION). "
        "Update Chromium (pairdesk doctor shows which one is used) and pairdesk, then "
        "restart the session; restarting without an update gets the same answer."
    ),
    Reason.PROXY_UNREACHABLE: (
        "The account's proxy did not answer, so the login page could not open "
        "(proxy_unreachable). Check that the proxy runs and that its address, port and "
        "password are right (change it with \u201cSet proxy\u201d), then restart the "
        "session."
    ),
    Reason.DISK_FULL: (
        "The disk that holds the saved logins is full, so this session's login could "
        "not be saved (disk_full). The session keeps running on its last saved login "
        "and pairdesk retries by itself; free space on that disk (pairdesk doctor "
        "shows which folder) and the reason clears with the next save."
    ),
    Reason.AWAITING_MEMBER: (
        "The fleet member that ran this session stopped renewing its lease (it stopped, "
        "froze or lost the database), so its page was closed (awaiting_member). Another "
        "member takes it over by itself, without a QR, within lease_ttl + lease_grace; "
        "nothing to do unless it stays like this (then see pairdesk fleet status)."
    ),
    Reason.NO_MEMBER: (
        "No fleet member can run this session (no_member): none is alive, or every live "
        "one is full or draining, so its page is closed and nothing takes it over. Start "
        "another member, raise max_sessions, or end a drain (pairdesk fleet drain NAME "
        "--off); a member then takes it over by itself."
    ),
}


#: Shorter words than "failed" for the gates that park a session (grid pills, wall tiles).
REASON_LABELS: dict[Reason, str] = {
    Reason.PROXYBLOCK: "network blocked",
    Reason.TOS_BLOCK: "banned",
    Reason.SMB_TOS_BLOCK: "banned (business)",
    Reason.DEPRECATED_VERSION: "browser too old",
    Reason.PROXY_UNREACHABLE: "proxy unreachable",
    Reason.DISK_FULL: "disk full",
}


def state_label(state: SessionState, reason: Reason | str | None = None) -> str:
    """The operator's word for a state, naming the gate when one parked the session."""
    if state is SessionState.FAILED and reason:
        try:
            return REASON_LABELS.get(Reason(reason), STATE_LABELS[state])
        except ValueError:
            pass
    return STATE_LABELS.get(state, str(state))


def reason_message(reason: Reason | str | None) -> str:
    """The operator's explanation of `reason` (what it means, what to do), or ''."""
    try:
        return REASON_MESSAGES.get(Reason(reason), "") if reason else ""
    except ValueError:
        return ""


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
