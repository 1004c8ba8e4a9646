"""The servers' listening socket: every accepted connection sends at once.

With Nagle's algorithm on, a response written in two parts (uvicorn writes the
headers, then the body; a stream writes each event) waits for the client's
delayed ACK of the first part, 40 ms on a kept-alive connection. asyncio turns
it off (TCP_NODELAY) only on sockets whose protocol says TCP, so the listener
must be made with IPPROTO_TCP: this checks what asyncio, and so uvicorn, does
with the connections it accepts on it, and that a served app answers on it.
"""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from app.serving import _bind, serve_async


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
async def test_accepted_connections_have_nagle_off(host: str) -> None:
    try:
        sock = _bind(host, 0)
    except OSError:
        pytest.skip(f"no {host} on this machine")
    assert sock.proto == socket.IPPROTO_TCP
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            server_side = transport.get_extra_info("socket")
            accepted.set_result(server_side.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    server = await asyncio.get_running_loop().create_server(Probe, sock=sock)
    try:
        port = sock.getsockname()[1]
        _, writer = await asyncio.open_connection(host, port)
        assert await asyncio.wait_for(accepted, 10) != 0
        writer.close()
    finally:
        server.close()
        await server.wait_closed()


async def test_a_served_app_answers_on_a_kept_alive_connection() -> None:
    app = Starlette(routes=[Route("/", lambda _request: PlainTextResponse("ok"))])
    async with serve_async(app, "127.0.0.1", 0, log_level="warning") as url:
        async with httpx.AsyncClient() as client:
            answers = [(await client.get(url)).text for _ in range(3)]
    assert answers == ["ok", "ok", "ok"]
