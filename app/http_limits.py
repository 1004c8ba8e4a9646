"""Request body limits for every HTTP server pairdesk runs (instance API, central, sandbox).

A server that calls `await request.body()` reads whatever the client sends
into memory before it looks at it: a 400 MB POST costs 400 MB, token or not.
The pieces here read a body only up to a cap, answering 413 as soon as the
declared `Content-Length` or the bytes received pass it, and hand the
buffered body on to the app as if it had never been read:

- `read_capped(receive, cap)`: the body, or `TooLarge` once it passes `cap`;
- `replay(body, receive)`: a `receive` that yields `body` first, then defers
  to the real one (disconnect notices for streaming answers);
- `BodyLimit`: ASGI middleware doing both for a whole app.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY = 1 << 20  # 1 MiB: the largest legitimate body (a QR webhook) is ~10 KB


class TooLarge(Exception):
    """The body passed the cap; nothing past the cap was read."""


def declared_length(scope: Scope) -> int | None:
    """The request's `Content-Length`, or None if absent or not a number."""
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def read_capped(receive: Receive, cap: int) -> bytes:
    """Read the request body, stopping (raising `TooLarge`) as soon as it passes `cap`."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > cap:
            raise TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` giving `body` as the whole request, then the real one's later messages."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


async def send_json(send: Send, status: int, document: dict[str, object]) -> None:
    """A small JSON answer, closing the exchange (the unread body is never read)."""
    body = json.dumps(document).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status in (413, 401):
        headers.append((b"connection", b"close"))  # do not drain a body we refused
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def too_large(cap: int) -> dict[str, object]:
    return {
        "success": False,
        "error": f"request body over {cap} bytes; send a smaller body",
        "code": "too_large",
    }


class BodyLimit:
    """ASGI middleware: HTTP bodies over `cap` get 413 without being read past the cap."""

    def __init__(self, app: ASGIApp, cap: int = MAX_BODY) -> None:
        self._app = app
        self._cap = cap

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        length = declared_length(scope)
        if length is not None and length > self._cap:
            await send_json(send, 413, too_large(self._cap))
            return
        try:
            body = await read_capped(receive, self._cap)
        except TooLarge:
            await send_json(send, 413, too_large(self._cap))
            return
        await self._app(scope, replay(body, receive), send)
