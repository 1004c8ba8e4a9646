"""What a provider page tells its owner: small frozen values, one per page fact.

The adapter turns the page's pushes (and Playwright's page events) into these;
a session (or the warm pool, for a page bound to no account yet) consumes
them. Keeping them plain values lets the owner of a page change without the
page noticing: the warm pool hands a booted page to a session by swapping the
sink, and the QR the page already shows is replayed from `Qr` as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.domain.states import Reason


@dataclass(frozen=True)
class Qr:
    """A new QR is on screen; `method` is the strategy that read it."""

    qr: str
    method: str  # "modules" | "dom" | "pixels"
    issued_at: datetime
    expires_at: datetime
    index_in_batch: int  # 0 for the first ref after a (re)load


@dataclass(frozen=True)
class SocketState:
    """The login socket's raw state (modules strategy only)."""

    state: str
    synced: bool


@dataclass(frozen=True)
class Idle:
    """The QR batch is exhausted (UNPAIRED_IDLE, or the reload button is shown)."""


@dataclass(frozen=True)
class Ready:
    """Logged in and synced."""

    phone: str
    platform: str
    method: str


@dataclass(frozen=True)
class LoggedOut:
    """The phone unlinked this device (Cmd logout event or a post_logout navigation)."""

    source: str


@dataclass(frozen=True)
class Conflict:
    """Another browser took this account over (Socket CONFLICT)."""


@dataclass(frozen=True)
class Passkey:
    """The page asked the browser for the account's passkey (`asked`), or that request
    ended (`answered`, `failed` with the error's name in `detail`)."""

    phase: str
    detail: str = ""


@dataclass(frozen=True)
class Blocked:
    """The page reached a terminal socket state (`PROXYBLOCK`, `TOS_BLOCK`, ...)."""

    state: str


@dataclass(frozen=True)
class Crashed:
    """The page is unusable: renderer crash, hang or browser death."""

    reason: Reason
    detail: str


@dataclass(frozen=True)
class WindowClosed:
    """The operator closed a session's window (its page, or the whole browser)."""


@dataclass(frozen=True)
class Navigated:
    """The page loaded a new document (not a logout); the adapter must be re-injected."""

    url: str


@dataclass(frozen=True)
class PageError:
    """The page reported a problem it survived (shown in the session's timeline)."""

    message: str


PageSignal = (
    Qr
    | SocketState
    | Idle
    | Ready
    | LoggedOut
    | Conflict
    | Passkey
    | Blocked
    | Crashed
    | WindowClosed
    | Navigated
    | PageError
)
