"""The one QR encoder: error correction M, the smallest version, a quiet zone on request."""

from __future__ import annotations

import base64
import random

import pytest
import zxingcpp
from PIL import Image

from app.domain.qr import QUIET_ZONE, Modules, qr_modules


def login_qr(seed: int = 1) -> str:
    """A string shaped like a real login QR (`ref,noise,identity,adv,platform`)."""
    rng = random.Random(seed)

    def b64(n: int) -> str:
        return base64.b64encode(rng.randbytes(n)).decode("ascii")

    return ",".join([f"2@{b64(66)}", b64(32), b64(32), b64(32), "WEB"])


def picture(modules: Modules, scale: int = 4) -> Image.Image:
    """Black on white, `scale` pixels per module, as a screen would show them."""
    size = len(modules)
    pixels = bytes(0 if dark else 255 for row in modules for dark in row)
    small = Image.frombytes("L", (size, size), pixels)
    return small.resize((size * scale, size * scale), Image.Resampling.NEAREST)


def test_a_login_qr_scans_back_with_error_correction_m() -> None:
    text = login_qr()
    found = zxingcpp.read_barcodes(picture(qr_modules(text, QUIET_ZONE)))
    assert [(code.text, code.ec_level) for code in found] == [(text, "M")]


def test_the_border_is_light_modules_around_the_same_symbol() -> None:
    text = login_qr(2)
    symbol, framed = qr_modules(text), qr_modules(text, 3)
    assert len(framed) == len(symbol) + 6
    assert all(len(row) == len(framed) for row in framed)
    assert [row[3:-3] for row in framed[3:-3]] == list(symbol)
    edge = [*framed[:3], *framed[-3:], *(row[:3] + row[-3:] for row in framed)]
    assert not any(any(row) for row in edge)


def test_the_smallest_version_that_holds_the_text() -> None:
    assert len(qr_modules("hello")) == 21  # version 1
    assert len(qr_modules(login_qr())) > 21


def test_the_same_text_is_encoded_once() -> None:
    text = login_qr(3)
    assert qr_modules(text, QUIET_ZONE) is qr_modules(text, QUIET_ZONE)


def test_a_negative_border_is_refused() -> None:
    with pytest.raises(ValueError, match="border"):
        qr_modules("hello", -1)
