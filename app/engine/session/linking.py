"""Link with phone number: one session's pairing-code mode.

Staff onboarding a customer by phone ask for a code instead of a QR: the page
switches to "link with phone number" (`WAWebAltDeviceLinkingApi`, driven by
the adapter) and returns 8 characters the customer types on their phone. As
the real client does, a fresh code is asked for every `RENEW_SECONDS`
(times `time_scale`) while the account stays unpaired; each code is a
`PairingCodeIssued` event, so it reaches the console and the platform the way
a QR does. After `qr_limit` codes nobody typed, the session gives up like an
unscanned QR batch (`failed`, `qr_limit`).

The mode ends when the account links (pairing, passkey, connected), when the
operator goes back to the QR (`regenerate_qr`), or when the page goes away.
Renewal is a timer handle on the loop that posts the renewal to the session's
worker, so it runs between page signals like everything else the session does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from app.domain.events import PairingCodeIssued

__all__ = ["RENEW_SECONDS", "PhoneLinking"]

RENEW_SECONDS = 180.0  # whatsapp-web.js asks for a new code every 180 s while unpaired


class PhoneLinking:
    """The pairing-code mode of one session (see the module docstring)."""

    def __init__(self, *, time_scale: float, post: Callable[[Callable[[], Awaitable[None]]], None]):
        self._time_scale = time_scale
        self._post = post
        self.phone = ""
        self.code = ""
        self.expires_at: datetime | None = None
        self.count = 0
        self._timer: asyncio.TimerHandle | None = None

    @property
    def active(self) -> bool:
        return bool(self.phone)

    @property
    def lifetime(self) -> float:
        return RENEW_SECONDS * self._time_scale

    def begin(self, phone: str) -> None:
        """Enter the mode for `phone` (a new phone starts the count again)."""
        if phone != self.phone:
            self.count = 0
        self.phone = phone

    def issued(
        self,
        code: str,
        *,
        at: datetime,
        session_id: str,
        workspace_id: int,
        instance_id: str,
        renew: Callable[[], Awaitable[None]],
    ) -> PairingCodeIssued:
        """Record a code the page gave, schedule its renewal, and make its event."""
        self.count += 1
        self.code = code
        self.expires_at = at + timedelta(seconds=self.lifetime)
        self._schedule(renew)
        return PairingCodeIssued(
            at=at,
            session_id=session_id,
            workspace_id=workspace_id,
            code=code,
            phone=self.phone,
            expires_at=self.expires_at,
            code_count=self.count,
            instance_id=instance_id,
        )

    def _schedule(self, renew: Callable[[], Awaitable[None]]) -> None:
        self._cancel_timer()
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self.lifetime, self._post, renew)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def end(self) -> None:
        """Leave the mode: no more renewals, no code shown."""
        self._cancel_timer()
        self.phone = self.code = ""
        self.expires_at = None
        self.count = 0
