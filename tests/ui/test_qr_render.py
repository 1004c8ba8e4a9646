"""Every picture of a login QR is the one symbol from `app.domain.qr`, and each scans back:
the sandbox page's matrix, the console's `QrView`, the terminal art and the webhook PNG."""

from __future__ import annotations

import base64
import io

from PIL import Image

from app.cli._serve import qr_art
from app.domain.qr import QUIET_ZONE, Modules, qr_modules
from app.sandbox import read_qr
from app.sandbox._qr import qr_matrix
from app.sync import qr_data_url
from app.ui.qr_render import QrView
from app.ui.test_phone import decode_widget
from tests.domain.test_qr import login_qr, picture


def _page_modules(size: int, bits: str) -> Modules:
    return tuple(tuple(bit == "1" for bit in bits[y * size : (y + 1) * size]) for y in range(size))


def _art_modules(art: str) -> Modules:
    """Dark modules back from the half blocks (default art: the blocks paint light modules)."""
    lines = art.splitlines()
    rows = []
    for line in lines:
        rows.append(tuple(char not in "▀█" for char in line))
        rows.append(tuple(char not in "▄█" for char in line))
    return tuple(rows[: len(lines[0])])  # the last half line is padding


def _png_modules(data_url: str, count: int) -> Modules:
    image = Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))).convert("L")
    scale = image.width // count
    offset = (image.width - count * scale) // 2
    centre = offset + scale // 2
    return tuple(
        tuple(image.getpixel((centre + x * scale, centre + y * scale)) < 128 for x in range(count))
        for y in range(count)
    )


def test_the_four_pictures_are_one_symbol_and_scan_back(qtbot) -> None:
    text = login_qr(7)
    symbol, framed = qr_modules(text), qr_modules(text, QUIET_ZONE)
    size, bits = qr_matrix(text)
    page = _page_modules(size, bits)
    art = _art_modules(qr_art(text))
    png = qr_data_url(text)
    assert page == symbol
    assert art == qr_modules(text, 2)
    assert _png_modules(png, len(framed)) == framed
    view = QrView(side=300)
    qtbot.addWidget(view)
    view.set_qr(text)
    view.show()
    assert read_qr(picture(qr_modules(text, QUIET_ZONE))) == [text]  # what the page paints
    assert read_qr(picture(art)) == [text]
    assert read_qr(base64.b64decode(png.split(",", 1)[1])) == [text]
    assert decode_widget(view) == text


def test_a_text_no_qr_can_hold_is_said_in_words_not_painted(qtbot) -> None:
    from app.ui.qr_render import UNDRAWABLE

    view = QrView(side=300)
    qtbot.addWidget(view)
    view.set_qr("2@" + "x" * 3000)  # more than a version-40 symbol holds at level M
    view.show()
    image = view.grab().toImage()  # paints; an exception here would leave the painter open
    assert view.qr_text().startswith("2@")
    dark = sum(
        1
        for y in range(0, image.height(), 3)
        for x in range(0, image.width(), 3)
        if image.pixelColor(x, y).lightness() < 128
    )
    assert 0 < dark < image.width() * image.height() / 9 / 10  # words, not a code
    assert "too long" in UNDRAWABLE and "New QR" in UNDRAWABLE
