"""Reference central API: the platform's receiving side of the webhook contract (docs/SYNC.md).

`create_central_app(secret)` builds a Starlette app that verifies signed
webhooks (`POST /api/whatsapp/webhooks/webjs`), keeps an event log and an
account table, lists the accounts it expects connected
(`GET /api/whatsapp/accounts/active`), and offers test endpoints under
`/central/`: the event log (`GET /central/events`, filtered by `event`,
`session_id`, `event_id`, and `since` a `seq` for only what is newer),
account seeding and fault knobs (500s, slow answers, 429 with Retry-After,
refused connections). Its state is
`app.state.central` (a `CentralState`) for in-process tests.

`CentralServer` serves it from a background thread (`with CentralServer(secret)
as central: central.url`); `serve_central` does the same on the running loop.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import contextvars
import io
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from app.http_limits import BodyLimit
from app.sandbox.central_rules import (
    PNG_PREFIX,
    QR_PIXELS,
    AuthFailure,
    InvalidEvent,
    check_event_id,
    check_signature,
    validate_event,
)
from app.sandbox.central_state import Account, CentralState, Clock, parse_fault
from app.serving import ServerThread, serve_async

WEBHOOK_PATH = "/api/whatsapp/webhooks/webjs"
ACTIVE_PATH = "/api/whatsapp/accounts/active"
MAX_BODY = 1 << 20

# Set while a request is being refused on purpose, so the server's complaint
# about the unfinished response is not mistaken for a bug (see _RefusalFilter).
_refusing: contextvars.ContextVar[bool] = contextvars.ContextVar("central_refusing", default=False)


class _RefusalFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not _refusing.get()


_filter_installed = False


def _install_refusal_filter() -> None:
    global _filter_installed
    if not _filter_installed:
        logging.getLogger("uvicorn.error").addFilter(_RefusalFilter())
        _filter_installed = True


class _FaultGate:
    """ASGI wrapper applying the fault plan to `/api/...` requests before the routes run."""

    def __init__(self, app: ASGIApp, central: CentralState) -> None:
        self._app = app
        self._central = central

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self._app(scope, receive, send)
            return
        fault = self._central.take_fault()
        if fault is None:
            await self._app(scope, receive, send)
        elif fault.kind == "slow":
            await asyncio.sleep(fault.delay)
            await self._app(scope, receive, send)
        elif fault.kind == "refuse":
            # Start an answer and stop: the server closes the connection and the
            # client sees a dropped connection, never a status it could act on.
            _refusing.set(True)
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [(b"content-length", b"64")],
                }
            )
        elif fault.kind == "rate_limit":
            response = JSONResponse(
                {"error": "too many requests", "retry_after": fault.retry_after},
                status_code=429,
                headers={"Retry-After": str(fault.retry_after)},
            )
            await response(scope, receive, send)
        else:
            response = JSONResponse({"error": "injected fault"}, status_code=fault.status)
            await response(scope, receive, send)


def _warm_event_check() -> None:
    """Check one valid QR event, so the first real one is not the first run.

    The platform's API has served for hours when a QR arrives; this stand-in was
    started a moment before, and its first QR check imported Pillow and loaded
    its image plugins to decode the QR's PNG: in loaded bench runs the first
    webhooks were the slowest (docs/BENCHMARKS.md). Nothing is logged; the bench
    measures pairdesk, not the stand-in's first run."""
    from PIL import Image

    png = io.BytesIO()
    Image.new("1", (QR_PIXELS, QR_PIXELS), 1).save(png, format="PNG")
    validate_event(
        {
            "event": "qr_code_generated",
            "data": {
                "session_id": "webjs_0_1700000000_warmup00",
                "workspace_id": 0,
                "qr_code": PNG_PREFIX + base64.b64encode(png.getvalue()).decode("ascii"),
                "expires_in": 20,
                "qr_count": 1,
                "is_regeneration": False,
            },
        }
    )


def create_central_app(
    secret: str,
    *,
    clock: Clock = time.time,
    state: CentralState | None = None,
) -> Starlette:
    """The reference central API verifying webhooks signed with `secret`.

    `clock` gives unix seconds (inject a fake one to test the 300 s window);
    `state` lets a caller keep the same memory across app instances.
    """
    if not secret:
        raise ValueError("the reference central API needs a webhook secret to verify against")
    key = secret.encode("utf-8")
    central = state if state is not None else CentralState(clock=clock)
    _install_refusal_filter()
    _warm_event_check()

    async def webhook(request: Request) -> JSONResponse:
        body = await request.body()
        if len(body) > MAX_BODY:
            return JSONResponse({"error": "body too large"}, status_code=413)
        event_id = request.headers.get("x-event-id")
        try:
            timestamp = check_signature(key, request.headers, body, now=central.clock())
        except AuthFailure as exc:
            central.reject(401, exc.reason, exc.detail, event_id)
            return JSONResponse(
                {"error": "unauthorized", "reason": exc.reason, "detail": exc.detail},
                status_code=401,
            )
        try:
            event_id = check_event_id(request.headers)
            parsed = json.loads(body)
            name, data = validate_event(parsed)
            event_id = check_event_id(request.headers, data)
        except (InvalidEvent, ValueError, RecursionError) as exc:
            message = str(exc) if isinstance(exc, InvalidEvent) else f"body is not JSON: {exc}"
            central.reject(422, "invalid event", message, event_id)
            return JSONResponse({"error": "invalid event", "message": message}, status_code=422)
        entry = central.record(
            name,
            data,
            event_id=event_id,
            timestamp=timestamp,
            instance_url=request.headers.get("x-instance-url", ""),
        )
        return JSONResponse(
            {
                "ok": True,
                "seq": entry.seq,
                "duplicate": entry.duplicate,
                "status": "duplicate" if entry.duplicate else "applied",
            }
        )

    async def active(request: Request) -> JSONResponse:
        # The pull needs no signature in the contract; a signed pull is still checked,
        # so a sender signing GETs wrongly finds out here rather than in production.
        if "x-hmac-signature" in request.headers:
            try:
                check_signature(key, request.headers, b"", now=central.clock())
            except AuthFailure as exc:
                return JSONResponse(
                    {"error": "unauthorized", "reason": exc.reason, "detail": exc.detail},
                    status_code=401,
                )
        rows = [_active_row(a) for a in central.active()]
        return JSONResponse({"data": rows, "count": len(rows)})

    async def events(request: Request) -> JSONResponse:
        q = request.query_params
        try:
            since = int(q.get("since", "0"))
        except ValueError:
            shown = q.get("since", "")[:40]
            return JSONResponse(
                {"error": f"since must be a logged seq (a whole number), not {shown!r}"},
                status_code=422,
            )
        items = central.events(
            event=q.get("event"),
            session_id=q.get("session_id"),
            event_id=q.get("event_id"),
            since=since,
        )
        rejected = [r.to_json() for r in central.rejections()]
        return JSONResponse(
            {"data": [e.to_json() for e in items], "count": len(items), "rejected": rejected}
        )

    async def faults(request: Request) -> JSONResponse:
        if request.method == "DELETE":
            central.clear_faults()
        elif request.method == "POST":
            try:
                spec = json.loads(await request.body() or b"{}")
                if not isinstance(spec, dict):
                    raise ValueError("the body must be a JSON object")
                central.add_fault(parse_fault(spec, central.clock()))
            except (ValueError, RecursionError) as exc:
                return JSONResponse({"error": f"bad fault: {exc}"}, status_code=422)
        return JSONResponse({"faults": [f.to_json() for f in central.faults()]})

    async def accounts(request: Request) -> JSONResponse:
        if request.method == "POST":
            try:
                for account in _parse_accounts(json.loads(await request.body() or b"null")):
                    central.seed(account)
            except (ValueError, RecursionError) as exc:
                return JSONResponse({"error": f"bad account: {exc}"}, status_code=422)
        rows = [a.to_json() for a in central.accounts()]
        return JSONResponse({"data": rows, "count": len(rows)})

    async def reset(request: Request) -> JSONResponse:
        central.reset()
        return JSONResponse({"ok": True})

    app = Starlette(
        routes=[
            Route(WEBHOOK_PATH, webhook, methods=["POST"]),
            Route(ACTIVE_PATH, active, methods=["GET"]),
            Route("/central/events", events, methods=["GET"]),
            Route("/central/faults", faults, methods=["GET", "POST", "DELETE"]),
            Route("/central/accounts", accounts, methods=["GET", "POST"]),
            Route("/central/reset", reset, methods=["POST"]),
        ]
    )
    app.state.central = central
    app.add_middleware(_FaultGate, central=central)
    # Outermost: a body over 1 MiB gets 413 before anything reads it whole.
    app.add_middleware(BodyLimit, cap=MAX_BODY)
    return app


def _active_row(account: Account) -> dict[str, Any]:
    return {
        "session_id": account.session_id,
        "workspace_id": account.workspace_id,
        "phone_number": account.phone_number,
        "status": account.status,
    }


def _parse_accounts(body: Any) -> list[Account]:
    """`{"accounts": [...]}`, a list, or one object; each needs session_id and workspace_id."""
    items = body.get("accounts", [body]) if isinstance(body, dict) else body
    if not isinstance(items, list):
        raise ValueError('send {"accounts": [{"session_id": ..., "workspace_id": ...}]}')
    out: list[Account] = []
    for item in items:
        if not isinstance(item, dict):
            raise ValueError("each account must be an object")
        session_id = item.get("session_id")
        workspace_id = item.get("workspace_id")
        if not isinstance(session_id, str) or not session_id:
            raise ValueError("session_id must be a non-empty string")
        if not isinstance(workspace_id, int) or isinstance(workspace_id, bool):
            raise ValueError("workspace_id must be an integer")
        out.append(
            Account(
                session_id=session_id,
                workspace_id=workspace_id,
                status=str(item.get("status", "connected")),
                phone_number=str(item.get("phone_number", "")),
                expected=bool(item.get("expected", True)),
            )
        )
    return out


class CentralServer:
    """The reference central API on a loopback port in a background thread.

    `with CentralServer("secret") as central:` gives `central.url` (base URL
    ending in "/"), `central.webhook_url` and `central.state` for assertions.
    """

    def __init__(
        self,
        secret: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock = time.time,
    ) -> None:
        self.app = create_central_app(secret, clock=clock)
        self.state: CentralState = self.app.state.central
        self._thread = ServerThread(self.app, host=host, port=port)
        self.url = ""

    @property
    def webhook_url(self) -> str:
        return self.url.rstrip("/") + WEBHOOK_PATH

    def start(self) -> str:
        self.url = self._thread.start()
        return self.url

    def stop(self) -> None:
        self._thread.stop()

    def __enter__(self) -> CentralServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.asynccontextmanager
async def serve_central(
    secret: str,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    clock: Clock = time.time,
) -> AsyncIterator[tuple[str, CentralState]]:
    """Serve the reference central API on the running loop; yields (base URL, state)."""
    app = create_central_app(secret, clock=clock)
    async with serve_async(app, host, port) as url:
        yield url, app.state.central
