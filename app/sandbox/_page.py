"""The login page (`GET /`) and its login socket (`/ws`).

The page's HTML, CSS and scripts are package data (`app/sandbox/page/`, read
through `importlib.resources`, so an installed wheel or a desktop bundle serves
the same page as a source checkout) and are sent as one document with the
scripts inlined, and the socket URL is absolute (built from the request that
rendered the page). So a copy of the page served under another origin, as
whatsapp-web.js's web version cache does at the real site's address, still
talks to this server and needs nothing else from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.websockets import WebSocket, WebSocketDisconnect

from app.sandbox._model import CLOSED
from app.sandbox._world import ProtocolError, SandboxWorld

MAX_MESSAGE = 16 * 1024
_SCRIPTS = ("modules.js", "ui.js", "weight.js", "login.js")


def page_files() -> Traversable:
    """The page's files, as installed with the `app.sandbox` package."""
    return resources.files("app.sandbox").joinpath("page")


@dataclass(frozen=True)
class PageTemplate:
    html: str
    script: str

    @classmethod
    def load(cls, folder: Traversable | None = None) -> PageTemplate:
        base = folder or page_files()
        try:
            html = base.joinpath("index.html").read_text(encoding="utf-8")
            script = "\n".join(base.joinpath(name).read_text(encoding="utf-8") for name in _SCRIPTS)
        except OSError as exc:
            raise RuntimeError(
                f"the sandbox page's files are missing from {base} ({exc.strerror}); "
                "this pairdesk installation is incomplete: reinstall it"
            ) from None
        return cls(html, script)

    def render(self, config: dict[str, Any]) -> str:
        # "</" would end the <script> element early; JSON allows "<\/".
        data = json.dumps(config).replace("</", "<\\/")
        return self.html.replace("{{CONFIG}}", data).replace("{{SCRIPT}}", self.script)


def socket_url(request: Request) -> str:
    base = str(request.base_url)
    scheme = "wss" if base.startswith("https:") else "ws"
    return scheme + base[base.index(":") :] + "ws"


def render_page(request: Request, world: SandboxWorld, template: PageTemplate) -> HTMLResponse:
    config = {
        "wsUrl": socket_url(request),
        "bootDelay": world.faults.boot_delay,
        "flavour": world.faults.flavour,
        "language": world.faults.language,
        "timeScale": world.options.time_scale,
        "version": world.options.version,
        "platform": world.options.platform,
        "weight": world.options.weight_spec(),
    }
    return HTMLResponse(template.render(config), headers={"Cache-Control": "no-store"})


async def login_socket(websocket: WebSocket, world: SandboxWorld) -> None:
    """One page's login socket: JSON messages both ways until either side closes."""
    await websocket.accept()
    lock = asyncio.Lock()

    async def send(message: dict[str, Any]) -> None:
        async with lock:
            await websocket.send_text(json.dumps(message))

    async def close(code: int) -> None:
        async with lock:
            await websocket.close(code)

    page = world.open_page(send, close)
    try:
        while page.state != CLOSED:
            event = await websocket.receive()
            if event["type"] == "websocket.disconnect":
                break
            text = event.get("text")
            if text is None or len(text) > MAX_MESSAGE:
                await page.deliver({"type": "error", "message": "expected JSON text messages"})
                continue
            try:
                message = json.loads(text)
            except ValueError:
                message = None
            try:
                await world.handle(page, message)
            except ProtocolError as exc:
                await page.deliver({"type": "error", "message": str(exc)})
    except WebSocketDisconnect:
        pass
    finally:
        world.close_page(page)
        with contextlib.suppress(Exception):
            await websocket.close()
