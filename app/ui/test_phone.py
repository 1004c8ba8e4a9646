"""Sandbox "Scan with test phone": read the QR off the screen, as a camera would.

`decode_widget` grabs the tile's own rendered pixels, converts them to a
greyscale PIL image and decodes them with zxing-cpp; `post_scan` sends the
decoded string to the sandbox test phone (`POST {sandbox_url}phone/scan`).
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


async def post_scan(
    sandbox_url: str, qr: str, phone: str, *, transport: httpx.AsyncBaseTransport | None = None
) -> None:
    """Ask the sandbox test phone to scan `qr`; raises `ScanError` with the reason."""
    url = sandbox_url.rstrip("/") + "/phone/scan"
    try:
        async with httpx.AsyncClient(timeout=10, transport=transport) as client:
            response = await client.post(url, json={"qr": qr, "phone": phone})
    except httpx.HTTPError as exc:
        raise ScanError(f"The sandbox test phone is not reachable at {url} ({exc}).") from None
    reasons = {
        404: "the sandbox does not know this QR",
        409: "this QR was already used",
        410: "this QR has expired; wait for the next one",
    }
    if response.status_code >= 400:
        why = reasons.get(response.status_code, f"HTTP {response.status_code}")
        raise ScanError(f"Test phone did not link: {why}.")
