"""Session states, reasons and the legal transitions between them (docs/SESSIONS.md).

The engine drives every session through `SessionLifecycle`; a transition that
is not in `TRANSITIONS` is a bug in the engine and raises `IllegalTransition`
rather than leaving a session in a state nobody can explain.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class SessionState(StrEnum):
    STOPPED = "stopped"
    STARTING = "starting"
    QR = "qr"
    QR_IDLE = "qr_idle"
    PAIRING = "pairing"
    PASSKEY_REQUIRED = "passkey_required"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    LOGGED_OUT = "logged_out"
    FAILED = "failed"

    @property
    def central_status(self) -> CentralStatus:
        return CENTRAL_STATUS[self]

    @property
    def waiting_for_scan(self) -> bool:
        return self in (SessionState.QR, SessionState.QR_IDLE)

    @property
    def needs_operator(self) -> bool:
        return self in (SessionState.LOGGED_OUT, SessionState.FAILED, SessionState.PASSKEY_REQUIRED)

    @property
    def running(self) -> bool:
        """The session has a page, is getting one or is recovering one, so it holds a
        place on its instance (`RUNNING_STATES`); idle sessions hold none."""
        return self in RUNNING_STATES


#: States in which a session holds no page and takes no place on its instance.
IDLE_STATES: frozenset[SessionState] = frozenset(
    {SessionState.STOPPED, SessionState.LOGGED_OUT, SessionState.FAILED}
)
#: Every other state: running, or recovering by itself (`disconnected`).
RUNNING_STATES: frozenset[SessionState] = frozenset(SessionState) - IDLE_STATES


def is_restart(previous: SessionState | None, state: SessionState) -> bool:
    """Whether a transition counts as a restart of the session: a start after it was
    lost (`disconnected`) or gave up (`failed`). The one rule behind every restart
    count (the session's record, the store, the instance's metrics, the console)."""
    return state is SessionState.STARTING and previous in (
        SessionState.DISCONNECTED,
        SessionState.FAILED,
    )


class CentralStatus(StrEnum):
    """The status vocabulary the central API (Laravel) stores."""

    QR_SCANNING = "qr_scanning"
    AUTHENTICATED = "authenticated"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    FAILED = "failed"


CENTRAL_STATUS: dict[SessionState, CentralStatus] = {
    SessionState.STOPPED: CentralStatus.DISCONNECTED,
    SessionState.STARTING: CentralStatus.QR_SCANNING,
    SessionState.QR: CentralStatus.QR_SCANNING,
    SessionState.QR_IDLE: CentralStatus.QR_SCANNING,
    SessionState.PAIRING: CentralStatus.AUTHENTICATED,
    # The phone accepted the link; the device waits for the passkey (session_error says so).
    SessionState.PASSKEY_REQUIRED: CentralStatus.AUTHENTICATED,
    SessionState.CONNECTED: CentralStatus.CONNECTED,
    SessionState.DISCONNECTED: CentralStatus.DISCONNECTED,
    SessionState.LOGGED_OUT: CentralStatus.DISCONNECTED,
    SessionState.FAILED: CentralStatus.FAILED,
}


class Reason(StrEnum):
    """Stable codes for why a transition happened; shown in timelines and webhooks."""

    LOGOUT = "LOGOUT"
    CONFLICT = "CONFLICT"
    QR_EXPIRED = "qr_expired"
    QR_LIMIT = "qr_limit"
    BROWSER_CRASH = "browser_crash"
    INSTANCE_RESTART = "instance_restart"
    TIMEOUT = "timeout"
    STATE_CORRUPT = "state_corrupt"
    USER_INITIATED = "user_initiated"
    ERROR = "error"
    # The gates of the real site (docs/SESSIONS.md, "Gates"): terminal socket states keep
    # the page's own names, like LOGOUT and CONFLICT; none is ever retried automatically.
    PROXYBLOCK = "PROXYBLOCK"
    TOS_BLOCK = "TOS_BLOCK"
    SMB_TOS_BLOCK = "SMB_TOS_BLOCK"
    DEPRECATED_VERSION = "DEPRECATED_VERSION"
    PROXY_UNREACHABLE = "proxy_unreachable"
    PASSKEY_REQUIRED = "passkey_required"
    # The sessions folder's disk is full: the session runs on its last saved login
    # and its snapshots are retried until space returns (a reason, never a state).
    DISK_FULL = "disk_full"
    # Fleet mode, as a console sees it (docs/FLEET.md, "While a session waits for a
    # member"): no member holds the session's lease, so its page is closed. These
    # describe the fleet, not the session's own history: consoles and
    # `pairdesk fleet status` derive them from the leases, nothing stores or sends them.
    AWAITING_MEMBER = "awaiting_member"
    NO_MEMBER = "no_member"


#: Reasons only a fleet console derives (`app/fleet/lease_view.py`); the store's CHECK
#: constraints leave them out, so a session's record can never hold one.
FLEET_VIEW_REASONS: frozenset[Reason] = frozenset({Reason.AWAITING_MEMBER, Reason.NO_MEMBER})
#: Every reason a session's record (accounts, session_events) may hold.
STORED_REASONS: tuple[Reason, ...] = tuple(r for r in Reason if r not in FLEET_VIEW_REASONS)


#: Socket states after which the page never recovers by itself, and the reason each
#: is recorded with. Reopening the page would only repeat the verdict (a block gets
#: worse with every retry), so a session that meets one is `failed` and waits for
#: an operator.
TERMINAL_SOCKET_STATES: dict[str, Reason] = {
    "PROXYBLOCK": Reason.PROXYBLOCK,
    "TOS_BLOCK": Reason.TOS_BLOCK,
    "SMB_TOS_BLOCK": Reason.SMB_TOS_BLOCK,
    "DEPRECATED_VERSION": Reason.DEPRECATED_VERSION,
}
#: Reasons a session must never be restarted for automatically (a block, a proxy that
#: does not answer): onboarding gives the account up at once instead of retrying.
NO_RETRY_REASONS: frozenset[Reason] = frozenset(
    {*TERMINAL_SOCKET_STATES.values(), Reason.PROXY_UNREACHABLE}
)


S = SessionState

# Every state may go to STOPPED (operator stop, instance shutdown) and to FAILED
# (gave up); those are added below rather than repeated in every row.
_BASE: dict[SessionState, frozenset[SessionState]] = {
    S.STOPPED: frozenset({S.STARTING}),
    S.STARTING: frozenset(
        {S.QR, S.PAIRING, S.PASSKEY_REQUIRED, S.CONNECTED, S.DISCONNECTED, S.LOGGED_OUT}
    ),
    S.QR: frozenset(
        {S.QR, S.QR_IDLE, S.PAIRING, S.PASSKEY_REQUIRED, S.STARTING, S.DISCONNECTED, S.CONNECTED}
    ),
    S.QR_IDLE: frozenset({S.QR, S.STARTING, S.DISCONNECTED}),
    S.PAIRING: frozenset({S.CONNECTED, S.PASSKEY_REQUIRED, S.QR, S.DISCONNECTED, S.LOGGED_OUT}),
    # Waiting for the passkey: finished (connected), refused (a new QR), or reopened.
    S.PASSKEY_REQUIRED: frozenset(
        {S.CONNECTED, S.PAIRING, S.QR, S.STARTING, S.DISCONNECTED, S.LOGGED_OUT}
    ),
    S.CONNECTED: frozenset({S.DISCONNECTED, S.LOGGED_OUT, S.STARTING}),
    S.DISCONNECTED: frozenset({S.STARTING, S.CONNECTED, S.LOGGED_OUT}),
    S.LOGGED_OUT: frozenset({S.STARTING}),
    S.FAILED: frozenset({S.STARTING}),
}

TRANSITIONS: dict[SessionState, frozenset[SessionState]] = {
    state: targets | {S.STOPPED, S.FAILED} - ({S.FAILED} if state is S.STOPPED else set())
    for state, targets in _BASE.items()
}


class IllegalTransition(RuntimeError):
    """The engine tried a transition the state model does not allow (a bug)."""


def can_transition(current: SessionState, target: SessionState) -> bool:
    return target in TRANSITIONS[current]


@dataclass(frozen=True)
class Transition:
    """One recorded step of a session's timeline."""

    state: SessionState
    reason: Reason | None
    at: datetime
    detail: str = ""


class SessionLifecycle:
    """The state of one session plus its recent history, enforcing legal moves."""

    HISTORY = 8

    def __init__(self, state: SessionState = S.STOPPED, history: Iterable[Transition] = ()) -> None:
        self._state = state
        self._history: deque[Transition] = deque(history, maxlen=self.HISTORY)

    @property
    def state(self) -> SessionState:
        return self._state

    @property
    def history(self) -> tuple[Transition, ...]:
        return tuple(self._history)

    def move(
        self, target: SessionState, reason: Reason | None, at: datetime, detail: str = ""
    ) -> Transition:
        if not can_transition(self._state, target):
            raise IllegalTransition(f"{self._state} -> {target} is not a legal transition")
        step = Transition(target, reason, at, detail)
        self._state = target
        self._history.append(step)
        return step
