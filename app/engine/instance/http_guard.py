"""The instance API's front door: the token is checked before any body is read.

Every request needs the instance token. It is looked for in the
`Authorization: Bearer` header or the `api_key` query parameter first, and a
wrong one is refused with 401 before a single body byte is read. Only a
request that carries neither (the Node.js service also accepted `api_key` in
the JSON body, and the platform may still send it there) has its body read,
and then at most `UNAUTHENTICATED_BODY` bytes (64 KiB, far more than any body
holding a token needs) before the token inside it is checked. Authenticated
bodies are capped at `MAX_BODY` (1 MiB); both caps answer 413 as soon as the
declared length or the bytes received pass them. Unknown paths and methods
are routed (404/405) only after this check, so an unauthenticated caller
learns nothing about the API.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from typing import Any

from starlette.datastructures import Headers, QueryParams
from starlette.types import ASGIApp, Receive, Scope, Send

from app.http_limits import MAX_BODY, TooLarge, declared_length, read_capped, replay, send_json
from app.http_limits import too_large as too_large_document

UNAUTHENTICATED_BODY = 64 * 1024
_BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")
UNAUTHORIZED = {
    "success": False,
    "error": "missing or wrong instance token; send 'Authorization: Bearer <token>' "
    "or api_key (the token the instance was started with)",
    "code": "unauthorized",
}


def _outer_token(scope: Scope) -> str | None:
    """The token from the header or the query string; None when neither has one."""
    scheme, _, value = Headers(scope=scope).get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    query = QueryParams(scope.get("query_string", b""))
    if "api_key" in query:
        return query["api_key"]
    return None


def _body_token(body: bytes) -> str:
    try:
        document: Any = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, 5000-digit ints, deep nesting
        return ""
    key = document.get("api_key") if isinstance(document, dict) else None
    return key if isinstance(key, str) else ""


class TokenGuard:
    """ASGI middleware: authenticate, then read a capped body, then route."""

    def __init__(self, app: ASGIApp, token: Callable[[], str], max_body: int = MAX_BODY) -> None:
        self._app = app
        self._token = token
        self._cap = max_body

    def _valid(self, presented: str) -> bool:
        expected = self._token()
        return bool(presented) and hmac.compare_digest(presented.encode(), expected.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        presented = _outer_token(scope)
        if presented is not None and not self._valid(presented):
            await send_json(send, 401, UNAUTHORIZED)
            return
        if presented is None and scope["method"] not in _BODY_METHODS:
            await send_json(send, 401, UNAUTHORIZED)
            return
        cap = self._cap if presented is not None else min(self._cap, UNAUTHENTICATED_BODY)
        length = declared_length(scope)
        try:
            if length is not None and length > cap:
                raise TooLarge
            body = await read_capped(receive, cap)
        except TooLarge:
            await send_json(send, 413, too_large_document(cap))
            return
        if presented is None and not self._valid(_body_token(body)):
            await send_json(send, 401, UNAUTHORIZED)
            return
        await self._app(scope, replay(body, receive), send)
