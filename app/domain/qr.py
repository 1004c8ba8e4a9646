"""QR symbols: the one place a text becomes QR modules.

Every picture of a login QR is drawn from this module: the sandbox page's
canvas, the console's `QrView`, the terminal's half-block art and the
`qr_code_generated` webhook's PNG. One encoder means one set of choices, so
the four pictures of a QR string are the same symbol:

- error correction M, the level WhatsApp Web uses;
- the smallest version that holds the text;
- the mask the QR standard's penalty rules pick.

The encoder is zxing-cpp's (`create_barcode`), the library that already reads
QRs back for the pixels strategy and the tests. It is native code: a login
QR encodes in about 0.5 ms, against 2.3 ms for the pure-Python `qrcode`
library with its mask fixed (scoring all eight masks there took 10-25 ms).
The encode sits between a QR appearing on the page and its webhook, under
every busy core's queue (docs/BENCHMARKS.md, "One QR encoder in native
code").

Pure computation, no I/O and no images: callers turn modules into pixels.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import zxingcpp

#: Rows of modules, top to bottom; True is dark.
Modules = tuple[tuple[bool, ...], ...]

QUIET_ZONE = 4  # light modules around the symbol that the QR standard asks for
DARK, LIGHT = 0, 255  # the luminance of a module in `qr_luminance`


@lru_cache(maxsize=256)
def qr_luminance(text: str, border: int = 0) -> tuple[int, bytes]:
    """The QR symbol for `text` as (modules per side, one byte per module), with
    `border` light modules on every side.

    Rows top to bottom, `DARK` or `LIGHT` per module: the form an image takes
    as is (Pillow's `Image.frombytes("L", ...)`, a greyscale `QImage`), so
    neither the webhook's PNG nor the console's image loops over modules.

    Cached: a QR string is drawn again on every repaint, webhook retry and
    API read-back.
    """
    if border < 0:
        raise ValueError(f"border: expected 0 or more modules, got {border}")
    size, pixels = _symbol(text)
    if border == 0:
        return size, pixels
    side = size + 2 * border
    light = bytes([LIGHT])
    edge = light * border
    rows = b"".join(edge + pixels[top : top + size] + edge for top in range(0, size * size, size))
    return side, light * (side * border) + rows + light * (side * border)


@lru_cache(maxsize=256)
def qr_modules(text: str, border: int = 0) -> Modules:
    """The QR symbol for `text`, with `border` light modules on every side."""
    side, pixels = qr_luminance(text, border)
    return tuple(
        tuple(pixel == DARK for pixel in pixels[top : top + side])
        for top in range(0, side * side, side)
    )


@lru_cache(maxsize=256)
def _symbol(text: str) -> tuple[int, bytes]:
    """The encoder's symbol, no quiet zone: (modules per side, one byte per module)."""
    barcode = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    image = barcode.to_image(scale=1, add_quiet_zones=False)
    height, width = image.shape[:2]
    if height != width:  # a QR symbol is square; anything else is a broken encoder
        raise ValueError(f"the QR encoder returned a {width}x{height} symbol")
    pixels: Any = image  # a buffer of bytes at run time; its stubs do not say so
    return width, memoryview(pixels).tobytes()
