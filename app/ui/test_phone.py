"""Sandbox "Scan with test phone": read the QR off the screen, as a camera would
(and "Enter code on test phone", which types a pairing code as its owner would).

`decode_widget` grabs the tile's own rendered pixels, converts them to a
greyscale PIL image and decodes them with zxing-cpp; `post_scan` has the
sandbox test phone scan the decoded string, through the sandbox's own client
(`app.sandbox.phone_client`, the console's one allowed import of the sandbox),
and turns its refusals into words for the status bar.
"""

from __future__ import annotations

import random

import httpx
import zxingcpp
from PIL import Image
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QWidget


class ScanError(RuntimeError):
    """The scan did not happen; the message says why and what to do."""


def image_to_pil(image: QImage) -> Image.Image:
    """A greyscale PIL copy of a QImage (row padding removed)."""
    grey = image.convertToFormat(QImage.Format.Format_Grayscale8)
    width, height, stride = grey.width(), grey.height(), grey.bytesPerLine()
    raw = bytes(grey.constBits())[: stride * height]
    return Image.frombuffer("L", (width, height), raw, "raw", "L", stride, 1).copy()


def decode_image(image: QImage) -> str:
    """The text of the QR code in `image`; raises `ScanError` when there is none."""
    results = zxingcpp.read_barcodes(image_to_pil(image), formats=zxingcpp.BarcodeFormat.QRCode)  # type: ignore[arg-type]
    if not results:
        raise ScanError("No QR code could be read from the tile; wait for the next QR.")
    return results[0].text


def decode_widget(widget: QWidget) -> str:
    """Decode the QR currently painted by `widget`."""
    return decode_image(widget.grab().toImage())


def test_phone_number(rng: random.Random | None = None) -> str:
    """A plausible Indonesian mobile number for the sandbox phone."""
    rng = rng or random.Random()
    return f"62811{rng.randrange(10**7, 10**8)}"


_REFUSALS = {
    404: "the sandbox does not know this QR",
    409: "this QR was already used",
    410: "this QR has expired; wait for the next one",
}
_CODE_REFUSALS = {
    404: "the sandbox does not know this code (a newer one replaced it)",
    409: "the code was asked for another phone number",
    410: "the code has expired; wait for the next one",
}


async def post_scan(
    sandbox_url: str, qr: str, phone: str, *, transport: httpx.AsyncBaseTransport | None = None
) -> None:
    """Ask the sandbox test phone to scan `qr`; raises `ScanError` with the reason."""
    await _with_phone(sandbox_url, "scan", qr, phone, _REFUSALS, transport)


async def post_pair(
    sandbox_url: str, code: str, phone: str, *, transport: httpx.AsyncBaseTransport | None = None
) -> None:
    """Have the sandbox test phone type pairing `code` for `phone`; `ScanError` says why not."""
    await _with_phone(sandbox_url, "pair", code, phone, _CODE_REFUSALS, transport)


async def _with_phone(
    sandbox_url: str,
    verb: str,
    what: str,
    phone: str,
    refusals: dict[int, str],
    transport: httpx.AsyncBaseTransport | None,
) -> None:
    # Here, not at the top: importing app.sandbox loads the simulator's web app, which
    # a console on the real site never needs.
    from app.sandbox.phone_client import AsyncTestPhone, PhoneError, PhoneUnreachable

    try:
        async with AsyncTestPhone(sandbox_url, transport=transport) as client:
            await (client.scan(what, phone) if verb == "scan" else client.pair(what, phone))
    except PhoneUnreachable as exc:
        raise ScanError(
            f"The sandbox test phone is not reachable at {exc.url} ({exc.__cause__})."
        ) from None
    except PhoneError as exc:
        why = refusals.get(exc.status, f"HTTP {exc.status}")
        raise ScanError(f"Test phone did not link: {why}.") from None
