"""The simulator's records: open pages, issued refs, linked devices, faults.

Plain mutable dataclasses owned by `SandboxWorld` and only touched from the
server's event loop. An "account" is a linked device, keyed like its WhatsApp
device JID user part: `"<phone>:<device_id>"`; a phone may link several.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

OPENING = "OPENING"
UNPAIRED = "UNPAIRED"
UNPAIRED_IDLE = "UNPAIRED_IDLE"
PAIRING = "PAIRING"
CONNECTED = "CONNECTED"
CONFLICT = "CONFLICT"
CLOSED = "CLOSED"  # server side only: the socket is gone

Send = Callable[[dict[str, Any]], Awaitable[None]]
Close = Callable[[int], Awaitable[None]]


@dataclass(frozen=True)
class PageKeys:
    """The public half of a page's keys, as its hello message gave them."""

    noise: str
    identity: str
    adv: str
    platform: str

    def qr_text(self, ref: str) -> str:
        return ",".join((ref, self.noise, self.identity, self.adv, self.platform))


@dataclass(eq=False)
class Page:
    """One login socket, i.e. one open page (a page that reconnects gets a new one)."""

    id: int
    send: Send
    close: Close
    opened_at: float
    keys: PageKeys | None = None
    tab: str = ""  # the page load's id: its reconnects share it
    state: str = OPENING
    account: str | None = None
    ref: str | None = None
    ref_index: int = 0
    batches: int = 0
    hung: bool = False
    pairing_code: str | None = None
    pairing_phone: str | None = None
    pairing_expires_at: float = 0.0  # monotonic seconds
    tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    @property
    def live(self) -> bool:
        """Connected for an account right now (what a conflict is about)."""
        return self.state == CONNECTED and self.account is not None

    def cancel(self, slot: str | None = None) -> None:
        """Cancel the task in `slot`, or all of them."""
        for name in [slot] if slot else list(self.tasks):
            task = self.tasks.pop(name, None)
            if task is not None and not task.done() and task is not asyncio.current_task():
                task.cancel()

    async def deliver(self, message: dict[str, Any]) -> None:
        """Send, ignoring a socket that is already closing (the page is gone anyway)."""
        if self.state == CLOSED:
            return
        with contextlib.suppress(Exception):
            await self.send(message)


@dataclass(eq=False)
class RefRecord:
    """A ref the server issued, for /phone/scan's verdicts."""

    ref: str
    qr: str
    page_id: int
    lifetime: float  # real seconds it was valid for when issued
    expires_at: float
    used: bool = False
    retired: bool = False  # superseded by a newer ref, paired, or its page closed


@dataclass(eq=False)
class Device:
    """A linked device: what the test phone sees under Settings > Linked devices."""

    phone: str
    device_id: int
    identity: str
    lid: str
    linked_at: float

    @property
    def account(self) -> str:
        return f"{self.phone}:{self.device_id}"


@dataclass(eq=False)
class PendingPasskey:
    """A link the phone accepted that waits for the passkey step, keyed by the page's
    identity key: any page of the same account (same keys) may finish it."""

    phone: str
    identity: str
    challenge: str


@dataclass
class Faults:
    """The fault knobs that persist until `DELETE /sandbox/faults`.

    `passkey` and `block_phone` are True (every phone / page) or a phone number;
    `block_state` is the terminal socket state pages are pushed into.
    """

    boot_delay: float
    flavour: str
    reject_scans: bool = False
    passkey: bool | str = False
    block_state: str | None = None
    block_phone: str | None = None
    language: str = "en"

    def as_dict(self) -> dict[str, Any]:
        return {
            "boot_delay": self.boot_delay,
            "flavour": self.flavour,
            "language": self.language,
            "reject_scans": self.reject_scans,
            "passkey": self.passkey,
            "block_state": self.block_state,
            "block_phone": self.block_phone,
        }

    def passkey_for(self, phone: str) -> bool:
        return self.passkey is True or self.passkey == phone


SCAN_OUTCOMES = ("linked", "expired", "unknown", "used", "malformed", "rejected")


@dataclass
class Counters:
    """Totals reported by /sandbox/stats."""

    scans: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SCAN_OUTCOMES, 0))
    refs_issued: int = 0
    batches_exhausted: int = 0
    pages_opened: int = 0
    restores: int = 0
    logouts: int = 0
    conflicts_total: int = 0
    max_live_per_account: int = 0
    pairing_codes: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("issued", "linked", "expired", "unknown"), 0)
    )
    passkeys: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("asked", "confirmed", "refused"), 0)
    )
    blocked: int = 0
