"""Local stand-ins for the outside world: the WhatsApp Web login simulator,
its test phone, oracle and faults (this package's public API below; the test
phone's client is `app.sandbox.phone_client`), and the reference central API
(`app.sandbox.central`).

The simulator serves a page with the surface docs/SESSIONS.md ("The login page") describes
(`window.Debug.VERSION`, `window.require` modules, the `div[data-ref]` QR
canvas, `#pane-side`), so the engine's `whatsapp_web` adapter runs unchanged
against it and against the real site. See docs/SANDBOX.md.
"""

from __future__ import annotations

from app.sandbox._app import create_simulator_app
from app.sandbox._options import FLAVOURS, PAGE_WEIGHTS, SandboxOptions
from app.sandbox._qr import QrParts, parse_qr
from app.sandbox._server import SandboxServer
from app.sandbox._world import SandboxWorld
from app.sandbox.phone_client import (
    AsyncTestPhone,
    PhoneError,
    PhoneUnreachable,
    TestPhone,
    read_qr,
)

__all__ = [
    "FLAVOURS",
    "PAGE_WEIGHTS",
    "AsyncTestPhone",
    "PhoneError",
    "PhoneUnreachable",
    "QrParts",
    "SandboxOptions",
    "SandboxServer",
    "SandboxWorld",
    "TestPhone",
    "create_simulator_app",
    "parse_qr",
    "read_qr",
]
