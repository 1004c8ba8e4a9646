"""The simulator's Starlette app: the login page, its socket, the test phone,
the oracle and the fault knobs, all sharing one `SandboxWorld`.

`app.state.sandbox` is that world, for in-process tests (read it from the
server's loop, or treat it as a snapshot when the server runs in a thread).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from app.http_limits import BodyLimit
from app.sandbox import _control as control
from app.sandbox._options import SandboxOptions
from app.sandbox._page import PageTemplate, login_socket, render_page
from app.sandbox._world import SandboxWorld


def create_simulator_app(options: SandboxOptions | None = None) -> Starlette:
    """A new simulator with its own world (pages, devices, counters, faults)."""
    world = SandboxWorld(options or SandboxOptions())
    template = PageTemplate.load()

    async def page(request: Request) -> Response:
        return render_page(request, world, template)

    async def socket(websocket: WebSocket) -> None:
        await login_socket(websocket, world)

    async def scan(request: Request) -> Response:
        return await control.scan(request, world)

    async def pair(request: Request) -> Response:
        return await control.pair(request, world)

    async def logout(request: Request) -> Response:
        return await control.logout(request, world)

    async def passkey(request: Request) -> Response:
        return control.passkey(request, world)

    async def stats(request: Request) -> Response:
        return control.stats(world)

    async def pages(request: Request) -> Response:
        return JSONResponse({"pages": control.open_pages_state(world)})

    async def faults(request: Request) -> Response:
        if request.method == "POST":
            return await control.set_faults(request, world)
        if request.method == "DELETE":
            return await control.reset_faults(world)
        return JSONResponse({"faults": world.faults.as_dict()})

    async def no_icon(request: Request) -> Response:
        return Response(status_code=204)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await world.aclose()

    app = Starlette(
        routes=[
            Route("/", page, methods=["GET"]),
            WebSocketRoute("/ws", socket),
            Route("/phone/scan", scan, methods=["POST"]),
            Route("/phone/pair", pair, methods=["POST"]),
            Route("/phone/logout", logout, methods=["POST"]),
            Route("/phone/passkey", passkey, methods=["GET"]),
            Route("/sandbox/stats", stats, methods=["GET"]),
            Route("/sandbox/pages", pages, methods=["GET"]),
            Route("/sandbox/faults", faults, methods=["GET", "POST", "DELETE"]),
            Route("/favicon.ico", no_icon, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.sandbox = world
    app.add_middleware(BodyLimit, cap=control.MAX_BODY)  # 413 before a big body is read
    return app
