"""QR symbols: the one place a text becomes QR modules.

Every picture of a login QR is drawn from `qr_modules`: the sandbox page's
canvas, the console's `QrView`, the terminal's half-block art and the
`qr_code_generated` webhook's PNG. One encoder means one set of choices, so
the four pictures of a QR string are the same symbol:

- error correction M, the level WhatsApp Web uses;
- mask pattern 0, always. Scoring the eight masks is most of the `qrcode`
  library's time (10-25 ms in pure Python instead of about 2 ms), and it sits
  between a QR appearing and staff seeing it; any mask gives a valid symbol
  that every reader decodes;
- the smallest version that holds the text.

Pure computation, no I/O and no images: callers turn modules into pixels.
"""

from __future__ import annotations

from functools import lru_cache

import qrcode
from qrcode.constants import ERROR_CORRECT_M

#: Rows of modules, top to bottom; True is dark.
Modules = tuple[tuple[bool, ...], ...]

MASK_PATTERN = 0
QUIET_ZONE = 4  # light modules around the symbol that the QR standard asks for


@lru_cache(maxsize=256)
def qr_modules(text: str, border: int = 0) -> Modules:
    """The QR symbol for `text`, with `border` light modules on every side.

    Cached: a QR string is drawn again on every repaint, webhook retry and
    API read-back, and encoding it is the slow part.
    """
    if border < 0:
        raise ValueError(f"border: expected 0 or more modules, got {border}")
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=border, mask_pattern=MASK_PATTERN)
    code.add_data(text)
    code.make(fit=True)
    return tuple(tuple(bool(cell) for cell in row) for row in code.get_matrix())
