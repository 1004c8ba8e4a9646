"""The simulated WhatsApp side: pages' login sockets, ref batches, linking,
restore, conflict and logout. One instance per simulator app, used only from
the server's event loop; it owns every timer task and cancels them in `aclose`.

Per page: hello (its public keys) -> a batch of refs (first valid 60 s, then
20 s each, 6 in all, scaled) -> UNPAIRED_IDLE until a refresh. A scan (or a
pairing code the phone typed) moves it to PAIRING, then CONNECTED, then
`synced` (hasSynced). A page whose identity key belongs to a linked device
skips the QR (restore). When a page goes live for an account that already has
a live page, the older one gets CONFLICT.

The gates (docs/SANDBOX.md, "Gates"): a pairing code is valid
`pairing_code_seconds` (scaled) and a new one replaces the page's old one; a
phone under the `passkey` fault accepts the link only once the page proves
the phone's passkey (any page with the same keys may, e.g. one opened in a
window); the `block_state` fault pushes pages into a terminal socket state
they never leave.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import secrets
import time
from collections.abc import Coroutine, Iterable
from pathlib import Path
from typing import Any

from app.sandbox._model import (
    CLOSED,
    CONFLICT,
    CONNECTED,
    PAIRING,
    UNPAIRED,
    UNPAIRED_IDLE,
    Close,
    Counters,
    Device,
    Faults,
    Page,
    PageKeys,
    PendingPasskey,
    RefRecord,
    Send,
)
from app.sandbox._options import TERMINAL_STATES, SandboxOptions
from app.sandbox._passkey import PasskeyError, PhonePasskey, check_assertion, new_challenge
from app.sandbox._persist import SavedDevices, load_devices, save_devices
from app.sandbox._qr import check_key, check_platform, new_ref, qr_matrix

_log = logging.getLogger(__name__)
MAX_REF_RECORDS = 100_000  # old verdicts are forgotten past this (they become 404)
# The real codes' alphabet: Crockford base32 without 0, I, O and U (nothing to misread).
_PAIRING_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTVWXYZ"
_PHONE_DIGITS = re.compile(r"^\+?([1-9][0-9]{6,14})$")


class ProtocolError(ValueError):
    """A page sent something the login server cannot use."""


class SandboxWorld:
    """Pages, refs, devices, faults and counters of one simulator."""

    def __init__(self, options: SandboxOptions) -> None:
        self.options = options
        self.faults = Faults(boot_delay=options.boot_delay, flavour=options.flavour)
        self.counters = Counters()
        self.pages: dict[int, Page] = {}
        self.refs: dict[str, RefRecord] = {}
        self.devices: dict[str, Device] = {}  # account -> device
        self._by_identity: dict[str, str] = {}  # identity key -> account
        self._next_device: dict[str, int] = {}
        self.passkeys: dict[str, PhonePasskey] = {}  # phone -> its passkey
        self.pending: dict[str, PendingPasskey] = {}  # identity key -> link waiting for it
        self._ids = itertools.count(1)
        self._closed = False
        self._state_file = Path(options.state_file) if options.state_file else None
        if self._state_file is not None:
            saved = load_devices(self._state_file)
            self.devices.update(saved.devices)
            self._next_device.update(saved.next_device)
            self._by_identity.update({d.identity: d.account for d in saved.devices.values()})

    def _save(self) -> None:
        """Keep the linked devices on disk (when configured); small, so written in place."""
        if self._state_file is None:
            return
        try:
            saved = SavedDevices(dict(self.devices), dict(self._next_device))
            save_devices(self._state_file, saved)
        except OSError as exc:
            _log.warning(
                "sandbox: could not save linked devices to %s (%s); they are kept in "
                "memory but a restart will ask for new QR codes",
                self._state_file,
                exc,
            )

    @staticmethod
    def now() -> float:
        return time.monotonic()

    # ----------------------------------------------------------- page sockets

    def open_page(self, send: Send, close: Close) -> Page:
        page = Page(id=next(self._ids), send=send, close=close, opened_at=time.time())
        self.pages[page.id] = page
        self.counters.pages_opened += 1
        return page

    def close_page(self, page: Page) -> None:
        """The socket is gone (idempotent): stop its timers, retire its ref."""
        if page.state == CLOSED:
            return
        page.cancel()
        self._retire_ref(page)
        page.state = CLOSED
        self.pages.pop(page.id, None)

    async def handle(self, page: Page, message: Any) -> None:
        """One message from a page; ProtocolError for anything malformed."""
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            raise ProtocolError("expected a JSON object with a 'type'")
        kind = message["type"]
        if kind == "hello":
            await self._hello(page, message)
        elif page.keys is None:
            raise ProtocolError("say hello (with the page's public keys) first")
        elif kind == "refresh":
            if page.state in (UNPAIRED, UNPAIRED_IDLE):
                self._start_batch(page)
        elif kind == "takeover":
            account = self._by_identity.get(page.keys.identity)
            if page.state == CONFLICT and account is not None:
                self._spawn(page, "link", self._connect(page, account))
        elif kind == "logout":
            await self._page_logout(page)
        elif kind == "pairing_code":
            await self._pairing_code(page, message.get("phone"))
        elif kind == "qr_linking":
            page.pairing_code = page.pairing_phone = None  # back to QR mode: the code is void
        elif kind == "ping":  # a linked page's keep-alive (page_weight "real")
            await page.deliver({"type": "pong"})
        elif kind == "passkey_assertion":
            await self._passkey_assertion(page, message.get("assertion"))
        else:
            raise ProtocolError(f"unknown message type {kind!r}")

    async def _hello(self, page: Page, message: dict[str, Any]) -> None:
        if page.keys is not None:
            raise ProtocolError("hello was already said on this socket")
        try:
            keys = PageKeys(
                noise=check_key("noise", message.get("noise")),
                identity=check_key("identity", message.get("identity")),
                adv=check_key("adv", message.get("adv")),
                platform=check_platform(message.get("platform")),
            )
        except ValueError as exc:
            raise ProtocolError(f"hello: {exc}") from None
        tab = message.get("tab")
        page.keys, page.tab = keys, tab if isinstance(tab, str) and len(tab) <= 64 else ""
        account = self._by_identity.get(keys.identity)
        phone = account.split(":")[0] if account else None
        if self._blocks(phone):
            await self.block(page)
        elif keys.identity in self.pending:
            # The phone is still waiting for this account's passkey (e.g. the page was
            # reopened in a window): continue where the link stopped.
            await self._ask_passkey(page, self.pending[keys.identity])
        elif account is not None:
            self.counters.restores += 1
            self._spawn(page, "link", self._connect(page, account))
        elif message.get("device"):
            # The page remembers a device the phone no longer has: logged out.
            await page.deliver({"type": "logout", "reason": "device_removed"})
        else:
            self._start_batch(page)

    # --------------------------------------------------------------- QR batch

    def _start_batch(self, page: Page) -> None:
        page.batches += 1
        self._spawn(page, "timeline", self._timeline(page))

    async def _timeline(self, page: Page) -> None:
        assert page.keys is not None
        for index in range(self.options.refs_per_batch):
            lifetime = self.options.ref_lifetime(index)
            ref = new_ref()
            qr = page.keys.qr_text(ref)
            size, modules = qr_matrix(qr)
            self._retire_ref(page)
            self._remember(RefRecord(ref, qr, page.id, lifetime, self.now() + lifetime))
            page.ref, page.ref_index, page.state = ref, index + 1, UNPAIRED
            self.counters.refs_issued += 1
            await page.deliver(
                {
                    "type": "ref",
                    "ref": ref,
                    "qr": qr,
                    "size": size,
                    "modules": modules,
                    "expires_in": lifetime,
                    "index": index + 1,
                    "of": self.options.refs_per_batch,
                }
            )
            await asyncio.sleep(lifetime)
        self._retire_ref(page)
        page.state = UNPAIRED_IDLE
        self.counters.batches_exhausted += 1
        await page.deliver({"type": "idle"})

    def _remember(self, record: RefRecord) -> None:
        self.refs[record.ref] = record
        while len(self.refs) > MAX_REF_RECORDS:
            del self.refs[next(iter(self.refs))]

    def _retire_ref(self, page: Page) -> None:
        if page.ref is not None:
            record = self.refs.get(page.ref)
            if record is not None:
                record.retired = True
            page.ref = None

    # ---------------------------------------------------------------- linking

    def link(self, page: Page, phone: str) -> Device | None:
        """The phone accepted this page (scan or pairing code): PAIRING, then CONNECTED.

        Under the `passkey` fault the link waits for the page to prove the phone's
        passkey instead, and None is returned (no device yet)."""
        assert page.keys is not None
        page.cancel("timeline")
        self._retire_ref(page)
        page.pairing_code = page.pairing_phone = None
        if self.faults.passkey_for(phone):
            pending = PendingPasskey(phone, page.keys.identity, new_challenge())
            self.pending[pending.identity] = pending
            self.passkey_of(phone)
            page.state = PAIRING
            self._spawn(page, "link", self._ask_passkey(page, pending))
            return None
        return self._add_device(page, phone)

    def _add_device(self, page: Page, phone: str) -> Device:
        assert page.keys is not None
        device_id = self._next_device.get(phone, 1)
        self._next_device[phone] = device_id + 1
        lid = str(10**13 + secrets.randbelow(9 * 10**13))
        device = Device(phone, device_id, page.keys.identity, lid, time.time())
        self.devices[device.account] = device
        self._by_identity[device.identity] = device.account
        self._save()
        page.state = PAIRING
        self._spawn(page, "link", self._pair(page, device.account))
        return device

    async def _pair(self, page: Page, account: str) -> None:
        await page.deliver({"type": "pairing"})
        await asyncio.sleep(self.options.scaled(self.options.pair_delay))
        await self._connect(page, account)

    async def _connect(self, page: Page, account: str) -> None:
        await self._go_live(page, account)
        await asyncio.sleep(self.options.scaled(self.options.sync_delay))
        if page.live:
            await page.deliver({"type": "synced"})

    async def _go_live(self, page: Page, account: str) -> None:
        device = self.devices.get(account)
        if device is None:  # unlinked meanwhile
            await page.deliver({"type": "logout", "reason": "device_removed"})
            return
        older = [
            p for p in self.pages.values() if p is not page and p.account == account and p.live
        ]
        for stale in [p for p in older if page.tab and p.tab == page.tab]:
            # The same page reconnected before its old socket's close reached us.
            older.remove(stale)
            self.close_page(stale)
        page.account, page.state = account, CONNECTED
        self.counters.max_live_per_account = max(self.counters.max_live_per_account, len(older) + 1)
        for other in older:
            other.state = CONFLICT
            other.cancel("link")
            self.counters.conflicts_total += 1
            await other.deliver({"type": "conflict"})
        await page.deliver(
            {
                "type": "connected",
                "phone": device.phone,
                "device_id": device.device_id,
                "lid": device.lid,
                "pushname": f"Test phone {device.phone[-4:]}",
                "phone_platform": "android",
            }
        )

    async def _pairing_code(self, page: Page, phone: object) -> None:
        if page.state not in (UNPAIRED, UNPAIRED_IDLE):
            message = "not waiting for a login"
        else:
            match = _PHONE_DIGITS.match(phone) if isinstance(phone, str) else None
            message = "" if match else "the phone number must be E.164 digits"
        if message:
            await page.deliver({"type": "error", "about": "pairing_code", "message": message})
            return
        assert match is not None
        lifetime = self.options.scaled(self.options.pairing_code_seconds)
        page.pairing_phone = match.group(1)
        page.pairing_code = "".join(secrets.choice(_PAIRING_ALPHABET) for _ in range(8))
        page.pairing_expires_at = self.now() + lifetime
        self.counters.pairing_codes["issued"] += 1
        await page.deliver(
            {"type": "pairing_code", "code": page.pairing_code, "expires_in": lifetime}
        )

    def page_with_code(self, code: str) -> Page | None:
        wanted = code.replace("-", "").strip().upper()
        return next((p for p in self.pages.values() if p.pairing_code == wanted), None)

    # ---------------------------------------------------------------- passkey

    def passkey_of(self, phone: str) -> PhonePasskey:
        """The phone's passkey, made on first use."""
        if phone not in self.passkeys:
            self.passkeys[phone] = PhonePasskey.create(phone)
        return self.passkeys[phone]

    async def _ask_passkey(self, page: Page, pending: PendingPasskey) -> None:
        page.state = PAIRING
        self.counters.passkeys["asked"] += 1
        await page.deliver({"type": "pairing"})
        await page.deliver(
            {
                "type": "passkey",
                "challenge": pending.challenge,
                "credential_ids": [self.passkey_of(pending.phone).credential_id],
            }
        )

    async def _passkey_assertion(self, page: Page, assertion: object) -> None:
        assert page.keys is not None
        pending = self.pending.get(page.keys.identity)
        if pending is None:
            await page.deliver({"type": "passkey_failed", "message": "no link is waiting"})
            return
        try:
            check_assertion(self.passkey_of(pending.phone), pending.challenge, assertion)
        except PasskeyError as exc:
            self.counters.passkeys["refused"] += 1
            await page.deliver({"type": "passkey_failed", "message": str(exc)})
            return
        del self.pending[page.keys.identity]
        self.counters.passkeys["confirmed"] += 1
        self._add_device(page, pending.phone)

    # ----------------------------------------------------------------- blocks

    def _blocks(self, phone: str | None) -> bool:
        """Whether the `block_state` fault applies to a page of this phone (None: unlinked)."""
        f = self.faults
        return f.block_state is not None and (f.block_phone is None or f.block_phone == phone)

    def block_targets(self) -> list[Page]:
        return [
            p
            for p in self.pages.values()
            if p.keys is not None and self._blocks(p.account.split(":")[0] if p.account else None)
        ]

    async def block(self, page: Page) -> None:
        """Push the page into the fault's terminal socket state; it never leaves it."""
        state = self.faults.block_state
        assert state in TERMINAL_STATES
        page.cancel()
        self._retire_ref(page)
        page.pairing_code = page.pairing_phone = None
        page.state = state
        self.counters.blocked += 1
        await page.deliver({"type": "blocked", "state": state})

    # ---------------------------------------------------------------- logout

    async def unlink(self, devices: Iterable[Device], reason: str) -> None:
        """Remove devices; their pages get Cmd logout and clear their storage."""
        gone = list(devices)
        for device in gone:
            self.devices.pop(device.account, None)
            self._by_identity.pop(device.identity, None)
            self.counters.logouts += 1
        if gone:
            self._save()
        for device in gone:
            for page in list(self.pages.values()):
                if page.account == device.account or (
                    page.keys is not None and page.keys.identity == device.identity
                ):
                    page.cancel()
                    page.account = None
                    await page.deliver({"type": "logout", "reason": reason})

    async def _page_logout(self, page: Page) -> None:
        account = page.account
        device = self.devices.get(account) if account else None
        if device is not None:
            await self.unlink([device], "local")
        else:
            await page.deliver({"type": "logout", "reason": "local"})

    def devices_of(self, phone: str) -> list[Device]:
        return [d for d in self.devices.values() if d.phone == phone]

    # ------------------------------------------------------------------ tasks

    def _spawn(self, page: Page, slot: str, coro: Coroutine[Any, Any, None]) -> None:
        if self._closed or page.state == CLOSED:
            coro.close()
            return
        page.cancel(slot)
        task = asyncio.get_running_loop().create_task(coro, name=f"sandbox-page-{page.id}-{slot}")
        page.tasks[slot] = task

        def _done(t: asyncio.Task[None]) -> None:
            if page.tasks.get(slot) is t:
                del page.tasks[slot]
            if not t.cancelled() and t.exception() is not None:
                _log.error("page %s: %s task failed", page.id, slot, exc_info=t.exception())

        task.add_done_callback(_done)

    def pages_matching(self, target: object) -> list[Page]:
        """All pages for True, else the pages linked to that phone number."""
        if target is True:
            return list(self.pages.values())
        prefix = f"{target}:"
        return [p for p in self.pages.values() if p.account and p.account.startswith(prefix)]

    async def aclose(self) -> None:
        """Cancel and await every timer task (server shutdown)."""
        self._closed = True
        tasks = [t for page in self.pages.values() for t in page.tasks.values()]
        for page in list(self.pages.values()):
            page.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
