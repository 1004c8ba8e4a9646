"""A stand-in for `pairdesk instance` that needs no Chromium, run as a real subprocess.

It speaks the instance API of docs/INSTANCE_API.md (bearer token, sessions,
SSE events, /health), prints `instance: URL` when ready, and starts a
sleeping grandchild in a process group of its own, as Playwright does with
Chromium, so the supervisor's tree sampling and cleanup are tested for real.

Shared state lives in the folder `FAKE_DIR`: `linked.json` (sessions a
"phone" has linked; restored without a QR) and one `child-*.pid` file per
grandchild. With `PAIRDESK_DATABASE_URL` set it restores, at start, the linked
sessions the store assigns to `instance-{index}`. Knobs, as environment
variables: FAKE_FAIL_START=1 exits before ready, FAKE_IGNORE_TERM=1 ignores
SIGTERM, FAKE_ACTION_DELAY=SECONDS slows every session action (and
`GET /fake/overlaps` reports calls for one session that overlapped),
FAKE_REFUSE_CREATE=1 answers every new session with 503 (instance full),
FAKE_REFUSE_WARM=1 answers `POST /api/warm-pool` with 503. A warm-up's pages
show as `warm_target` in /health (2 before any); `GET /fake/warm-ups` lists the
bodies of the warm-ups this process was asked for (pages and seconds), in order.
`POST /fake/scan/{id}` links a session, `POST /fake/hang` hangs /health.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.domain.events import (  # noqa: E402
    EngineEvent,
    QrIssued,
    SessionReady,
    SessionStateChanged,
    event_to_dict,
)
from app.domain.ids import parse_session_id  # noqa: E402
from app.domain.states import Reason, SessionState  # noqa: E402
from app.serving import serve_async  # noqa: E402


class Fake:
    def __init__(self, index: int, folder: Path, token: str) -> None:
        self.index = index
        self.folder = folder
        self.token = token
        self.sessions: dict[str, dict[str, Any]] = {}
        self.queues: list[asyncio.Queue[EngineEvent]] = []
        self.hang = asyncio.Event()
        self.started = datetime.now(UTC)
        self.in_flight: dict[str, int] = {}
        self.max_in_flight = 0  # across sessions: shows the engine does run them in parallel
        self.overlaps: list[str] = []  # sessions that saw two calls at once
        self.warm_target = 2  # what /health reports; a warm-up sets it
        self.warm_ups: list[dict[str, Any]] = []  # each warm-up's body, as asked

    # -- shared files
    def _read(self, name: str) -> dict[str, Any]:
        try:
            data = json.loads((self.folder / name).read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _link(self, session_id: str) -> None:
        linked = self._read("linked.json")
        linked[session_id] = True
        tmp = self.folder / f"linked.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(linked))
        tmp.replace(self.folder / "linked.json")

    # -- state
    def emit(self, event: EngineEvent) -> None:
        for queue in self.queues:
            queue.put_nowait(event)

    def move(self, sid: str, state: SessionState, reason: Reason | None = None) -> None:
        s = self.sessions[sid]
        previous = s["state"]
        s["state"] = state
        self.emit(
            SessionStateChanged(
                session_id=sid,
                workspace_id=s["workspace_id"],
                state=state,
                previous=previous,
                reason=reason,
                phone_number=s.get("phone", ""),
            )
        )

    def open(self, sid: str, workspace_id: int, reason: Reason | None = None) -> None:
        self.sessions[sid] = {"workspace_id": workspace_id, "state": SessionState.STOPPED}
        self.move(sid, SessionState.STARTING, reason)
        if self._read("linked.json").get(sid):
            self.connect(sid, restored=True)
        else:
            self.show_qr(sid)

    def show_qr(self, sid: str, regeneration: bool = False) -> None:
        s = self.sessions[sid]
        s["qr_count"] = s.get("qr_count", 0) + 1
        s["qr"] = f"2@fake{s['qr_count']},{sid},key,secret,platform"
        self.move(sid, SessionState.QR)
        self.emit(
            QrIssued(
                session_id=sid,
                workspace_id=s["workspace_id"],
                qr=s["qr"],
                expires_at=datetime.now(UTC) + timedelta(seconds=60),
                qr_count=s["qr_count"],
                is_regeneration=regeneration,
            )
        )

    def connect(self, sid: str, restored: bool = False) -> None:
        s = self.sessions[sid]
        s["phone"] = "15550000" + str(abs(hash(sid)) % 1000).zfill(3)
        s["qr"] = ""
        if not restored:
            self.move(sid, SessionState.PAIRING)
        self.move(sid, SessionState.CONNECTED)
        self.emit(
            SessionReady(
                session_id=sid,
                workspace_id=s["workspace_id"],
                phone_number=s["phone"],
                restored=restored,
            )
        )

    def restore(self) -> None:
        """Reopen the linked sessions the store assigns to this instance, as the real one does."""
        url = os.environ.get("PAIRDESK_DATABASE_URL")
        if not url:
            return
        from app.store import accounts, create_engine_for, session_factory

        db = create_engine_for(url)
        try:
            with session_factory(db)() as session:
                mine = accounts.list_accounts(session, instance_id=f"instance-{self.index}")
        finally:
            db.dispose()
        linked = self._read("linked.json")
        for info in mine:
            if linked.get(info.session_id):
                self.open(info.session_id, info.workspace_id, Reason.INSTANCE_RESTART)


def build_app(fake: Fake) -> Starlette:
    def authorised(request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {fake.token}"

    def guard(handler: Any) -> Any:
        async def wrapped(request: Request) -> Response:
            if not authorised(request):
                return JSONResponse({"error": "unauthorized"}, status_code=401)
            return await handler(request)

        return wrapped

    async def health(request: Request) -> Response:
        if fake.hang.is_set():
            await asyncio.sleep(3600)
        states = [s["state"] for s in fake.sessions.values()]
        connected = sum(st == SessionState.CONNECTED for st in states)
        return JSONResponse(
            {
                "status": "ok",
                "uptime": (datetime.now(UTC) - fake.started).total_seconds(),
                "sessions": {"total": len(states), "connected": connected},
                "warm_ready": 1,
                "warm_target": fake.warm_target,
            }
        )

    def refused() -> Response | None:
        if not os.environ.get("FAKE_REFUSE_CREATE"):
            return None
        message = f"instance-{fake.index} is full (FAKE_REFUSE_CREATE)"
        return JSONResponse(
            {"success": False, "error": message, "code": "capacity"}, status_code=503
        )

    async def create(request: Request) -> Response:
        body = await request.json()
        if (refusal := refused()) is not None:
            return refusal
        fake.open(body["session_id"], int(body["workspace_id"]))
        return JSONResponse({"success": True, "session_id": body["session_id"]})

    async def listing(request: Request) -> Response:
        return JSONResponse(
            {
                "success": True,
                "count": len(fake.sessions),
                "sessions": [
                    {
                        "session_id": sid,
                        "workspace_id": s["workspace_id"],
                        "state": str(s["state"]),
                        "phone_number": s.get("phone", ""),
                        "qr": s.get("qr", ""),
                    }
                    for sid, s in fake.sessions.items()
                ],
            }
        )

    async def action(request: Request) -> Response:
        sid = request.path_params["sid"]
        what = request.path_params["action"]
        if sid not in fake.sessions and what == "start":
            # Assigned here by the engine (the real instance reads the store).
            if (refusal := refused()) is not None:
                return refusal
            fake.open(sid, parse_session_id(sid).workspace_id)
            return JSONResponse({"success": True, "session_id": sid})
        if sid not in fake.sessions:
            return JSONResponse({"error": "unknown session"}, status_code=404)
        # Slow enough that two calls for one session would overlap if the engine let them.
        fake.in_flight[sid] = fake.in_flight.get(sid, 0) + 1
        fake.max_in_flight = max(fake.max_in_flight, sum(fake.in_flight.values()))
        if fake.in_flight[sid] > 1:
            fake.overlaps.append(sid)
        try:
            await asyncio.sleep(float(os.environ.get("FAKE_ACTION_DELAY", "0")))
        finally:
            fake.in_flight[sid] -= 1
        if what == "stop":
            fake.move(sid, SessionState.STOPPED, Reason.USER_INITIATED)
        elif what == "logout":
            fake.move(sid, SessionState.LOGGED_OUT, Reason.USER_INITIATED)
            del fake.sessions[sid]
            return JSONResponse({"success": True})
        elif what in ("start", "restart", "reconnect"):
            fake.open(sid, fake.sessions[sid]["workspace_id"], Reason.USER_INITIATED)
        elif what == "regenerate-qr":
            fake.show_qr(sid, regeneration=True)
        return JSONResponse({"success": True, "qr_code": fake.sessions[sid].get("qr", "")})

    async def warm_pool(request: Request) -> Response:
        if os.environ.get("FAKE_REFUSE_WARM"):
            message = f"instance-{fake.index} refuses warm-ups (FAKE_REFUSE_WARM)"
            return JSONResponse(
                {"success": False, "error": message, "code": "unavailable"}, status_code=503
            )
        body = await request.json()
        fake.warm_ups.append(body)
        fake.warm_target = int(body["pages"])
        return JSONResponse({"success": True, "warm_ready": 1, "warm_target": fake.warm_target})

    async def delete(request: Request) -> Response:
        sid = request.path_params["sid"]
        if sid in fake.sessions:
            fake.move(sid, SessionState.LOGGED_OUT, Reason.USER_INITIATED)
            del fake.sessions[sid]
        return JSONResponse({"success": True})

    async def scan(request: Request) -> Response:
        sid = request.path_params["sid"]
        fake._link(sid)
        fake.connect(sid)
        return JSONResponse({"success": True})

    async def overlaps(request: Request) -> Response:
        return JSONResponse({"overlaps": fake.overlaps, "max_in_flight": fake.max_in_flight})

    async def warm_ups(request: Request) -> Response:
        return JSONResponse({"warm_ups": fake.warm_ups})

    async def hang(request: Request) -> Response:
        fake.hang.set()
        return JSONResponse({"success": True})

    async def events(request: Request) -> Response:
        queue: asyncio.Queue[EngineEvent] = asyncio.Queue()
        fake.queues.append(queue)

        async def stream() -> Any:
            try:
                yield ": hello\n\n"
                while True:
                    event = await queue.get()
                    yield f"data: {json.dumps(event_to_dict(event))}\n\n"
            finally:
                fake.queues.remove(queue)

        return StreamingResponse(stream(), media_type="text/event-stream")

    return Starlette(
        routes=[
            Route("/health", health),
            Route("/api/sessions", guard(create), methods=["POST"]),
            Route("/api/sessions", guard(listing), methods=["GET"]),
            Route("/api/sessions/{sid}/{action}", guard(action), methods=["POST"]),
            Route("/api/sessions/{sid}", guard(delete), methods=["DELETE"]),
            Route("/api/events", guard(events)),
            Route("/api/warm-pool", guard(warm_pool), methods=["POST"]),
            Route("/fake/scan/{sid}", guard(scan), methods=["POST"]),
            Route("/fake/hang", guard(hang), methods=["POST"]),
            Route("/fake/overlaps", guard(overlaps)),
            Route("/fake/warm-ups", guard(warm_ups)),
        ]
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index", type=int, required=True)
    args = parser.parse_args()
    if os.environ.get("FAKE_FAIL_START"):
        print("fake instance: refusing to start (FAKE_FAIL_START)", flush=True)
        raise SystemExit(3)
    folder = Path(os.environ["FAKE_DIR"])
    fake = Fake(args.index, folder, os.environ["PAIRDESK_INSTANCE_TOKEN"])
    # The "Chromium": a grandchild in its own process group, like Playwright's.
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(100000)"], start_new_session=True
    )
    (folder / f"child-{args.index}-{child.pid}.pid").write_text(str(child.pid))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    if os.environ.get("FAKE_IGNORE_TERM"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    try:
        async with serve_async(build_app(fake), "127.0.0.1", 0) as url:
            fake.restore()
            print(f"instance: {url}", flush=True)
            await stop.wait()
    finally:
        child.kill()
        child.wait()


if __name__ == "__main__":
    asyncio.run(main())
