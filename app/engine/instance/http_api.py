"""The instance's HTTP API (reference: docs/INSTANCE_API.md).

Paths and bodies follow the Node.js service the central API already calls;
pairdesk's own verbs (`start`, `stop`, `restart`, `logout`) have a path each,
and the platform's spellings stay as aliases (`reconnect` = restart, `DELETE`
= logout). Every session route calls the instance's `sessions` operations
with the same verb (`POST /api/warm-pool`, about no one session, calls
`warm_up`); the JSON of a session and of `/health` comes from
`app.engine.wire`, which the console's side reads with.
Every route needs the instance token, as `Authorization: Bearer <token>` or as
`api_key` in the query string or the JSON body; `http_guard.TokenGuard`
checks it before any body is read or any route (404/405) is looked up, and
caps bodies at 1 MiB (413). Answers are JSON; failures are
`{"success": false, "error": "<what happened, what to do>", "code": "<stable>"}`
with 401 (token), 404 (unknown session), 422 (bad input), 409 (conflict), 503
(full or shutting down) or 500/504.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from app.domain.ids import (
    InvalidIdentifier,
    normalize_phone,
    validate_session_id,
    validate_workspace_id,
)
from app.domain.input_checks import loads_json, text_problem, whole_number_problem
from app.domain.models import SessionInfo
from app.domain.proxy import InvalidProxy, Proxy, parse_proxy
from app.engine.errors import BadRequest, InstanceError
from app.engine.instance.http_guard import TokenGuard
from app.engine.instance.hub import EventHub, Listener
from app.engine.instance.sessions import SessionOperations
from app.engine.wire import (
    MAX_WARM_UP_PAGES,
    MAX_WARM_UP_SECONDS,
    WARM_UP_SECONDS,
    Health,
    encode_session,
)
from app.sync.payloads import qr_data_url

log = logging.getLogger(__name__)

SSE_KEEPALIVE_SECONDS = 15.0
MAX_WARM_UP_PAGES_ASKED = 1000  # a sanity bound on `POST /api/warm-pool`; the host clamps


class InstanceService(Protocol):
    """What the API needs from the instance (`app.engine.instance.instance.Instance`)."""

    @property
    def token(self) -> str: ...

    @property
    def hub(self) -> EventHub: ...

    @property
    def sessions(self) -> SessionOperations: ...

    async def health(self) -> Health: ...

    async def metrics(self) -> str: ...


Handler = Callable[[Request], Awaitable[Response]]


def error_response(status: int, message: str, code: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(
        {"success": False, "error": message, "code": code}, status_code=status, headers=headers
    )


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = loads_json(raw)  # huge ints, deep nesting, bad UTF-8: a 422, never a 500
    except ValueError as exc:
        raise BadRequest(f"{exc}; send a JSON object") from None
    if not isinstance(data, dict):
        raise BadRequest('the request body must be a JSON object such as {"workspace_id": 42}')
    return data


def build_app(service: InstanceService, *, keepalive: float = SSE_KEEPALIVE_SECONDS) -> Starlette:
    """The Starlette app serving `service`."""

    def endpoint(handler: Handler) -> Handler:
        async def wrapped(request: Request) -> Response:
            try:  # the token was checked (and the body capped) by `TokenGuard`
                return await handler(request)
            except InstanceError as exc:
                return error_response(exc.status, exc.message, exc.code)
            except Exception:
                log.exception("instance API %s %s failed", request.method, request.url.path)
                return error_response(
                    500,
                    "the instance failed to handle this request; see the instance log",
                    "internal",
                )

        return wrapped

    def session_id_of(request: Request) -> str:
        try:
            return validate_session_id(request.path_params["session_id"])
        except InvalidIdentifier as exc:
            raise BadRequest(str(exc)) from None

    def proxy_of(body: dict[str, Any]) -> Proxy | None:
        value = body.get("proxy")
        if value is None or value == "":
            return None
        if isinstance(value, str) and (problem := text_problem(value)):
            raise BadRequest(f"proxy {problem}; give a URL such as http://user:pass@host:3128")
        try:
            return parse_proxy(value)
        except InvalidProxy as exc:
            raise BadRequest(str(exc)) from None

    async def create_session(request: Request) -> Response:
        body = await _json_body(request)
        try:
            workspace_id = validate_workspace_id(body.get("workspace_id"))
            session_id = validate_session_id(body.get("session_id"), workspace_id=workspace_id)
        except InvalidIdentifier as exc:
            raise BadRequest(str(exc)) from None
        account_id = body.get("account_id")
        if account_id is not None and (problem := whole_number_problem(account_id)):
            raise BadRequest(f"account_id {problem}")
        label = body.get("label", "")
        if not isinstance(label, str) or len(label) > 200:
            raise BadRequest("label must be text of at most 200 characters")
        if problem := text_problem(label):
            raise BadRequest(f"label {problem}; remove it and send the label again")
        info = await service.sessions.add_session(
            workspace_id=workspace_id,
            session_id=session_id,
            account_id=account_id,
            label=label,
            proxy=proxy_of(body),
        )
        return JSONResponse(
            {
                "success": True,
                "session_id": info.session_id,
                "status": info.state.central_status.value,
                "state": info.state.value,
            },
            status_code=201,
        )

    async def list_sessions(request: Request) -> Response:
        rows = [encode_session(info) for info in await service.sessions.list_sessions()]
        return JSONResponse({"success": True, "count": len(rows), "sessions": rows})

    async def status(request: Request) -> Response:
        info = await service.sessions.session_status(session_id_of(request))
        return JSONResponse({"success": True, **encode_session(info)})

    async def regenerate_qr(request: Request) -> Response:
        session_id = session_id_of(request)
        wait = request.query_params.get("wait", "true").lower() not in ("false", "0", "no")
        qr = await service.sessions.regenerate_qr(session_id, wait=wait)
        if qr is None:  # `wait=false`: the QR follows on /api/events
            return JSONResponse({"success": True, "session_id": session_id, "qr_code": None})
        data_url = await asyncio.to_thread(qr_data_url, qr.qr)
        return JSONResponse(
            {
                "success": True,
                "session_id": qr.session_id,
                "qr_code": data_url,
                "qr": qr.qr,
                "expires_in": round(qr.expires_in),
                "expires_at": qr.expires_at.isoformat(),
                "qr_count": qr.qr_count,
            }
        )

    async def pairing_code(request: Request) -> Response:
        session_id = session_id_of(request)
        body = await _json_body(request)
        try:
            phone = normalize_phone(body.get("phone"))
        except InvalidIdentifier as exc:
            raise BadRequest(f"phone: {exc}; give the E.164 number the code is for") from None
        wait = request.query_params.get("wait", "true").lower() not in ("false", "0", "no")
        code = await service.sessions.request_pairing_code(session_id, phone)
        if not wait:  # the console: the code reaches it on /api/events, one way only
            return JSONResponse({"success": True, "session_id": session_id, "code": None})
        return JSONResponse(
            {
                "success": True,
                "session_id": session_id,
                "code": code.code,
                "code_display": code.display_code,
                "phone": code.phone,
                "expires_in": round(code.expires_in),
                "expires_at": code.expires_at.isoformat(),
                "code_count": code.code_count,
            }
        )

    async def open_window(request: Request) -> Response:
        return acted(await service.sessions.open_window(session_id_of(request)))

    async def set_proxy(request: Request) -> Response:
        session_id = session_id_of(request)
        body = await _json_body(request)
        if "proxy" not in body:
            raise BadRequest('give "proxy": a URL such as http://user:pass@host:3128, or null')
        info = await service.sessions.set_proxy(session_id, proxy_of(body))
        return JSONResponse(
            {"success": True, "session_id": session_id, "proxy": info.proxy or None}
        )

    async def warm_pool(request: Request) -> Response:
        body = await _json_body(request)
        pages = _warm_up_pages(body.get("pages"))
        seconds = _warm_up_seconds(body.get("seconds", WARM_UP_SECONDS))
        ready, target = await service.sessions.warm_up(pages, seconds)
        return JSONResponse(
            {"success": True, "warm_ready": ready, "warm_target": target, "seconds": seconds}
        )

    def acted(info: SessionInfo) -> Response:
        return JSONResponse(
            {
                "success": True,
                "session_id": info.session_id,
                "status": info.state.central_status.value,
                "state": info.state.value,
            }
        )

    async def start(request: Request) -> Response:
        return acted(await service.sessions.start_session(session_id_of(request)))

    async def stop(request: Request) -> Response:
        return acted(await service.sessions.stop_session(session_id_of(request)))

    async def restart(request: Request) -> Response:
        return acted(await service.sessions.restart_session(session_id_of(request)))

    async def logout(request: Request) -> Response:
        return acted(await service.sessions.logout_session(session_id_of(request)))

    async def events(request: Request) -> Response:
        after = request.headers.get("last-event-id") or request.query_params.get("last_event_id")
        try:
            after_seq = int(after) if after else None
        except ValueError:
            raise BadRequest(f"Last-Event-ID must be a whole number, got {after!r}") from None
        types_param = request.query_params.get("types", "")
        types = [t.strip() for t in types_param.split(",") if t.strip()] or None
        listener = service.hub.listen(after=after_seq, types=types)
        return StreamingResponse(
            _sse(listener, keepalive),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    async def health(request: Request) -> Response:
        return JSONResponse((await service.health()).encode())

    async def metrics(request: Request) -> Response:
        return PlainTextResponse(
            await service.metrics(), media_type="text/plain; version=0.0.4; charset=utf-8"
        )

    async def not_found(request: Request) -> Response:
        return error_response(
            404, f"no such endpoint: {request.method} {request.url.path}", "not_found"
        )

    session = "/api/sessions/{session_id}"
    routes = [
        Route("/api/sessions", endpoint(create_session), methods=["POST"]),
        Route("/api/sessions", endpoint(list_sessions), methods=["GET"]),
        Route(f"{session}/status", endpoint(status), methods=["GET"]),
        Route(f"{session}/regenerate-qr", endpoint(regenerate_qr), methods=["POST"]),
        Route(f"{session}/pairing-code", endpoint(pairing_code), methods=["POST"]),
        Route(f"{session}/open-window", endpoint(open_window), methods=["POST"]),
        Route(f"{session}/proxy", endpoint(set_proxy), methods=["POST"]),
        Route(f"{session}/start", endpoint(start), methods=["POST"]),
        Route(f"{session}/stop", endpoint(stop), methods=["POST"]),
        Route(f"{session}/restart", endpoint(restart), methods=["POST"]),
        Route(f"{session}/reconnect", endpoint(restart), methods=["POST"]),  # the platform's word
        Route(f"{session}/logout", endpoint(logout), methods=["POST"]),
        Route(session, endpoint(logout), methods=["DELETE"]),  # the platform's spelling
        Route("/api/warm-pool", endpoint(warm_pool), methods=["POST"]),
        Route("/api/events", endpoint(events), methods=["GET"]),
        Route("/health", endpoint(health), methods=["GET"]),
        Route("/metrics", endpoint(metrics), methods=["GET"]),
    ]
    app = Starlette(routes=routes)

    async def on_404(request: Request, exc: Exception) -> Response:
        return await not_found(request)

    async def on_405(request: Request, exc: Exception) -> Response:
        return error_response(
            405, f"{request.method} is not allowed on {request.url.path}", "method_not_allowed"
        )

    app.add_exception_handler(404, on_404)
    app.add_exception_handler(405, on_405)
    # Outermost: no route, 404 or 405 is reached, and no body read, before the token.
    app.add_middleware(TokenGuard, token=lambda: service.token)
    return app


def _warm_up_pages(value: object) -> int:
    # Up to MAX_WARM_UP_PAGES_ASKED, not MAX_WARM_UP_PAGES: the host clamps, so a console
    # with a higher limit than this instance still gets as many pages as it may have.
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadRequest(
            f'"pages" must be a whole number of login pages, 0 or more (0 ends the warm-up), '
            f"got {value!r}"
        )
    if value > MAX_WARM_UP_PAGES_ASKED:
        raise BadRequest(
            f'"pages" is {value}, more than any instance keeps (at most {MAX_WARM_UP_PAGES}); '
            "ask for fewer"
        )
    return value


def _warm_up_seconds(value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 < value <= MAX_WARM_UP_SECONDS  # NaN fails this too
    ):
        raise BadRequest(
            f'"seconds" must be a number of seconds above 0 and at most '
            f"{MAX_WARM_UP_SECONDS:.0f}, got {value!r}"
        )
    return float(value)


async def _sse(listener: Listener, keepalive: float) -> AsyncIterator[bytes]:
    """`id:` + `data:` frames, a comment line as keepalive, until the hub closes."""
    try:
        yield b"retry: 1000\n: connected\n\n"
        while True:
            try:
                item = await listener.get(timeout=keepalive)
            except StopAsyncIteration:
                return
            if item is None:
                yield b": keepalive\n\n"
                continue
            data = json.dumps({"id": item.seq, **item.body}, separators=(",", ":"))
            yield f"id: {item.seq}\ndata: {data}\n\n".encode()
    finally:
        listener.detach()
