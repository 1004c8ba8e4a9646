"""Pieces that need no browser: options, QR strings, the threaded server and
the test phone client against it, two apps on one port."""

from __future__ import annotations

import base64

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from app.sandbox import (
    PhoneError,
    SandboxOptions,
    SandboxServer,
    TestPhone,
    create_simulator_app,
    parse_qr,
    read_qr,
)
from app.sandbox._combined import PathDispatch
from app.sandbox._qr import new_ref, qr_matrix
from app.serving import ServerThread

KEY = base64.b64encode(bytes(range(32))).decode()


def test_options_reject_bad_values_with_the_field_name() -> None:
    for kwargs, field in [
        ({"time_scale": 0}, "time_scale"),
        ({"boot_delay": -1}, "boot_delay"),
        ({"flavour": "html"}, "flavour"),
        ({"refs_per_batch": 0}, "refs_per_batch"),
    ]:
        with pytest.raises(ValueError, match=field):
            SandboxOptions(**kwargs)
    scaled = SandboxOptions(time_scale=0.05)
    assert scaled.ref_lifetime(0) == pytest.approx(3.0)
    assert scaled.ref_lifetime(5) == pytest.approx(1.0)


def test_qr_string_round_trip_and_matrix_decodes() -> None:
    text = ",".join((new_ref(), KEY, KEY, KEY, "WEB"))
    assert parse_qr(text).text() == text
    size, modules = qr_matrix(text)
    assert len(modules) == size * size
    from PIL import Image

    scale, quiet = 4, 4
    image = Image.new("L", ((size + 2 * quiet) * scale,) * 2, 255)
    for i, bit in enumerate(modules):
        if bit == "1":
            x, y = (i % size + quiet) * scale, (i // size + quiet) * scale
            image.paste(0, (x, y, x + scale, y + scale))
    assert read_qr(image) == [text]


@pytest.mark.parametrize(
    "text",
    ["", "a,b", f"nope,{KEY},{KEY},{KEY},WEB", f"2@{'A' * 40},{KEY},short,{KEY},WEB", None],
)
def test_parse_qr_rejects_malformed(text: object) -> None:
    with pytest.raises(ValueError):
        parse_qr(text)


def test_threaded_server_and_blocking_test_phone() -> None:
    with SandboxServer() as sandbox, TestPhone(sandbox.url) as phone:
        assert sandbox.url.startswith("http://127.0.0.1:") and sandbox.url.endswith("/")
        assert httpx.get(sandbox.url, timeout=10).status_code == 200
        assert phone.stats()["conflicts_total"] == 0
        assert phone.set_faults(reject_scans=True)["faults"]["reject_scans"] is True
        with pytest.raises(PhoneError) as rejected:
            phone.scan(",".join((new_ref(), KEY, KEY, KEY, "WEB")), "6281234567890")
        assert rejected.value.status == 503
        assert phone.reset_faults()["faults"]["reject_scans"] is False


def test_two_apps_share_one_port() -> None:
    async def hello(request: object) -> PlainTextResponse:
        return PlainTextResponse("central")

    other = Starlette(routes=[Route("/central/hello", hello)])
    app = PathDispatch(create_simulator_app(), other, ("/central", "/api/whatsapp"))
    with ServerThread(app) as server:
        assert httpx.get(server.url + "central/hello", timeout=10).text == "central"
        assert httpx.get(server.url + "sandbox/stats", timeout=10).status_code == 200
        assert httpx.get(server.url + "api/whatsapp/x", timeout=10).status_code == 404
