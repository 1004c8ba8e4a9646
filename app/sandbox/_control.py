"""The test phone, the oracle and the fault knobs, as JSON over HTTP.

- `POST /phone/scan {"qr", "phone"}`: link the page that shows this QR
  (200; 410 expired, 404 unknown, 409 already used, 422 malformed,
  503 while the `reject_scans` fault is on).
- `POST /phone/pair {"code", "phone"}`: the same through a pairing code
  (404 unknown code, 410 expired, 409 asked for another phone).
- `GET /phone/passkey?phone=`: the phone's passkey credential (for a virtual
  authenticator that plays the phone in the passkey step).
- `POST /phone/logout {"phone", "device_id"?}`: unlink (200; 404 none linked).
- `GET /sandbox/stats`: counters, linked devices, live pages per account.
- `GET|POST|DELETE /sandbox/faults`: read, set, reset the fault knobs.

Every error is `{"error": "<what happened and what to do>"}`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from app.sandbox._model import CLOSED, Device, Page
from app.sandbox._options import LANGUAGES, TERMINAL_STATES, check_flavour
from app.sandbox._qr import parse_qr
from app.sandbox._world import SandboxWorld

MAX_BODY = 64 * 1024
_PHONE = re.compile(r"^\+?([1-9][0-9]{6,14})$")


class Invalid(ValueError):
    """Malformed input: answered 422 with the message."""


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def read_object(request: Request, allowed: tuple[str, ...]) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise Invalid(f"request body over {MAX_BODY} bytes")
    try:
        data = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise Invalid(f"request body is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise Invalid(f"expected a JSON object with {', '.join(allowed)}")
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise Invalid(f"unknown field(s) {', '.join(unknown)}; expected {', '.join(allowed)}")
    return data


def parse_phone(value: object) -> str:
    """E.164 digits, with or without a leading '+'; returns the digits."""
    match = _PHONE.match(value) if isinstance(value, str) else None
    if match is None:
        raise Invalid('phone: expected an E.164 number as digits, e.g. "6281234567890"')
    return match.group(1)


# ------------------------------------------------------------------- phone


async def scan(request: Request, world: SandboxWorld) -> JSONResponse:
    counts = world.counters.scans
    try:
        body = await read_object(request, ("qr", "phone"))
        phone = parse_phone(body.get("phone"))
        try:
            parts = parse_qr(body.get("qr"))
        except ValueError as exc:
            raise Invalid(str(exc)) from None
    except Invalid as exc:
        counts["malformed"] += 1
        return error(422, str(exc))
    if world.faults.reject_scans:
        counts["rejected"] += 1
        return error(503, "scans are rejected (reject_scans fault); DELETE /sandbox/faults ends it")
    record = world.refs.get(parts.ref)
    if record is None or record.qr != parts.text():
        counts["unknown"] += 1
        return error(404, "unknown QR code: no page of this simulator showed it")
    if record.used:
        counts["used"] += 1
        return error(409, "this QR code was already used to link a device; scan a new one")
    page = world.pages.get(record.page_id)
    if page is None or record.retired or page.ref != parts.ref or world.now() >= record.expires_at:
        counts["expired"] += 1
        return error(410, "this QR code has expired; scan the one the page shows now")
    record.used = True
    device = world.link(page, phone)
    counts["linked"] += 1
    return _linked(device, phone)


def _linked(device: Device | None, phone: str) -> JSONResponse:
    if device is None:  # the `passkey` fault: the page must now prove the phone's passkey
        return JSONResponse(
            {
                "linked": False,
                "passkey_required": True,
                "phone": phone,
                "message": "continue on WhatsApp Web: confirm with the passkey on that page",
            }
        )
    return JSONResponse(
        {"linked": True, "device_id": device.device_id, "phone": phone, "account": device.account}
    )


async def pair(request: Request, world: SandboxWorld) -> JSONResponse:
    try:
        body = await read_object(request, ("code", "phone"))
        phone = parse_phone(body.get("phone"))
        code = body.get("code")
        if not isinstance(code, str) or not code.strip():
            raise Invalid("code: expected the 8-character pairing code the page showed")
    except Invalid as exc:
        return error(422, str(exc))
    codes = world.counters.pairing_codes
    page: Page | None = world.page_with_code(code)
    if page is None:
        codes["unknown"] += 1
        return error(
            404, "unknown pairing code (never shown, replaced by a newer one, or its page closed)"
        )
    if world.now() >= page.pairing_expires_at:
        codes["expired"] += 1
        return error(410, "this pairing code has expired; type the one the page shows now")
    if page.pairing_phone != phone:
        return error(409, "this pairing code was requested for another phone number")
    codes["linked"] += 1
    return _linked(world.link(page, phone), phone)


def passkey(request: Request, world: SandboxWorld) -> JSONResponse:
    try:
        phone = parse_phone(request.query_params.get("phone"))
    except Invalid as exc:
        return error(422, str(exc))
    return JSONResponse(world.passkey_of(phone).exported())


async def logout(request: Request, world: SandboxWorld) -> JSONResponse:
    try:
        body = await read_object(request, ("phone", "device_id"))
        phone = parse_phone(body.get("phone"))
        device_id = body.get("device_id")
        if device_id is not None and (
            isinstance(device_id, bool) or not isinstance(device_id, int) or device_id < 1
        ):
            raise Invalid("device_id: expected a whole number from 1, or leave it out")
    except Invalid as exc:
        return error(422, str(exc))
    devices = [d for d in world.devices_of(phone) if device_id is None or d.device_id == device_id]
    if not devices:
        what = f"device {device_id} of {phone}" if device_id is not None else phone
        return error(404, f"no linked device for {what}")
    await world.unlink(devices, "remote")
    return JSONResponse({"unlinked": [d.device_id for d in devices], "phone": phone})


# ------------------------------------------------------------------ oracle


def stats(world: SandboxWorld) -> JSONResponse:
    c = world.counters
    live = Counter(p.account for p in world.pages.values() if p.live)
    states = Counter(p.state for p in world.pages.values())
    return JSONResponse(
        {
            "scans": dict(c.scans, total=sum(c.scans.values())),
            "linked_devices": [
                {
                    "account": d.account,
                    "phone": d.phone,
                    "device_id": d.device_id,
                    "linked_at": d.linked_at,
                    "live": live.get(d.account, 0),
                }
                for d in world.devices.values()
            ],
            "live_connections": {account: live.get(account, 0) for account in world.devices},
            "pages": {
                "open": len(world.pages),
                "by_state": dict(states),
                "hung": sum(1 for p in world.pages.values() if p.hung),
                "opened_total": c.pages_opened,
            },
            "refs_issued": c.refs_issued,
            "batches_exhausted": c.batches_exhausted,
            "restores": c.restores,
            "logouts": c.logouts,
            "conflicts_total": c.conflicts_total,
            "max_live_per_account": c.max_live_per_account,
            "pairing_codes": dict(c.pairing_codes),
            "passkeys": dict(c.passkeys, waiting=len(world.pending)),
            "blocked": c.blocked,
            "faults": world.faults.as_dict(),
        }
    )


# ------------------------------------------------------------------ faults

_FAULT_FIELDS = (
    "boot_delay",
    "flavour",
    "reject_scans",
    "drop_sockets",
    "hang_pages",
    "passkey",
    "block_state",
    "block_phone",
    "language",
)


def _target(name: str, value: object) -> object:
    if value is True or value is False or value is None:
        return value or None
    if isinstance(value, str):
        return parse_phone(value)
    raise Invalid(f"{name}: expected true (all pages) or a phone number (its pages)")


async def set_faults(request: Request, world: SandboxWorld) -> JSONResponse:
    try:
        body = await read_object(request, _FAULT_FIELDS)
        if not body:
            raise Invalid(f"give at least one of {', '.join(_FAULT_FIELDS)}")
        changes: dict[str, Any] = {}
        if "boot_delay" in body:
            delay = body["boot_delay"]
            if isinstance(delay, bool) or not isinstance(delay, int | float):
                raise Invalid("boot_delay: expected a number of seconds from 0 to 600")
            if not 0 <= delay <= 600:
                raise Invalid("boot_delay: expected a number of seconds from 0 to 600")
            changes["boot_delay"] = float(delay)
        if "flavour" in body:
            try:
                changes["flavour"] = check_flavour(body["flavour"])
            except ValueError as exc:
                raise Invalid(str(exc)) from None
        if "reject_scans" in body:
            if not isinstance(body["reject_scans"], bool):
                raise Invalid("reject_scans: expected true or false")
            changes["reject_scans"] = body["reject_scans"]
        if "language" in body:
            if body["language"] not in LANGUAGES:
                raise Invalid(f"language: expected one of {', '.join(LANGUAGES)}")
            changes["language"] = body["language"]
        if "passkey" in body:
            changes["passkey"] = _target("passkey", body["passkey"]) or False
        if "block_state" in body:
            state = body["block_state"]
            if state is not None and state not in TERMINAL_STATES:
                raise Invalid(f"block_state: expected one of {', '.join(TERMINAL_STATES)} or null")
            changes["block_state"] = state
        if "block_phone" in body:
            target = _target("block_phone", body["block_phone"])
            changes["block_phone"] = None if target is True else target
        drop = _target("drop_sockets", body.get("drop_sockets"))
        hang = _target("hang_pages", body.get("hang_pages"))
    except Invalid as exc:
        return error(422, str(exc))
    for key, value in changes.items():
        setattr(world.faults, key, value)
    blocked = world.block_targets() if "block_state" in changes or "block_phone" in changes else []
    for page in blocked:
        await world.block(page)
    hung = world.pages_matching(hang) if hang is not None else []
    for page in hung:
        page.hung = True
        await page.deliver({"type": "hang"})
    dropped = world.pages_matching(drop) if drop is not None else []
    for page in dropped:
        # Forget the page before its socket closes, so its reconnect is not a conflict.
        world.close_page(page)
    for page in dropped:
        try:
            await page.close(1012)
        except Exception:  # already closing is fine
            pass
    return JSONResponse(
        {
            "faults": world.faults.as_dict(),
            "dropped": len(dropped),
            "hung": len(hung),
            "blocked": len(blocked),
        }
    )


async def reset_faults(world: SandboxWorld) -> JSONResponse:
    options = world.options
    world.faults.boot_delay = options.boot_delay
    world.faults.flavour = options.flavour
    world.faults.reject_scans = False
    world.faults.passkey = False
    world.faults.language = "en"
    world.faults.block_state = world.faults.block_phone = None
    return JSONResponse({"faults": world.faults.as_dict()})


def open_pages_state(world: SandboxWorld) -> list[dict[str, Any]]:
    """Per-page detail for diagnostics (not part of stats: it grows with pages)."""
    return [
        {
            "id": p.id,
            "state": p.state,
            "account": p.account,
            "ref_index": p.ref_index,
            "batches": p.batches,
            "hung": p.hung,
            "qr": world.refs[p.ref].qr if p.ref and p.ref in world.refs else None,
            "pairing_code": p.pairing_code,
        }
        for p in world.pages.values()
        if p.state != CLOSED
    ]
