"""An httpx client of one instance's HTTP API (docs/INSTANCE_API.md), SSE reader included.

The supervisor and the engine talk to instances only through this class, so
tests can hand it an `httpx.MockTransport` or point it at a fake instance
process. Failures become `InstanceUnavailable` (cannot reach it) or
`InstanceRefused` (it answered with an error), both with a message the
operator can read; the bearer token never appears in either.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

from app.domain.events import EngineEvent, event_from_dict
from app.domain.models import SessionInfo
from app.engine.wire import Health, decode_session

__all__ = ["InstanceClient", "InstanceClientError", "InstanceRefused", "InstanceUnavailable"]

log = logging.getLogger(__name__)

SLOW_CALL = 120.0  # seconds for calls that may start a page (or a browser) first


class InstanceClientError(RuntimeError):
    """A call to an instance failed; the message names the instance and the call."""


class InstanceUnavailable(InstanceClientError):
    """The instance could not be reached (down, restarting, or too slow to answer)."""


class InstanceRefused(InstanceClientError):
    """The instance answered with an HTTP error."""

    def __init__(self, message: str, *, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class InstanceClient:
    """Calls one instance at `base_url` with its bearer token."""

    def __init__(
        self,
        *,
        base_url: str,
        token: str,
        name: str = "instance",
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.name = name
        self.last_event_id = ""
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    # ------------------------------------------------------------------ calls

    async def health(self, *, timeout: float | None = None) -> Health:
        data = await self._object("GET", "health", "check health", timeout=timeout)
        return Health.decode(data)

    async def list_sessions(self) -> list[SessionInfo]:
        """Every session the instance runs or is assigned, as it reports them."""
        data: Any = await self._json("GET", "api/sessions", "list sessions")
        if isinstance(data, dict):
            data = data.get("sessions", [])
        if not isinstance(data, list):
            raise InstanceRefused(
                f"{self.name} answered the session list with something that is not a list",
                status_code=200,
            )
        decoded = (decode_session(row) for row in data if isinstance(row, dict))
        return [info for info in decoded if info is not None]

    # One method per verb, the same word as the Engine's and the instance's.

    async def start_session(self, session_id: str) -> None:
        await self._act("start", session_id, f"start {session_id}")

    async def stop_session(self, session_id: str) -> None:
        await self._act("stop", session_id, f"stop {session_id}")

    async def restart_session(self, session_id: str) -> None:
        await self._act("restart", session_id, f"restart {session_id}")

    async def logout_session(self, session_id: str) -> None:
        await self._act("logout", session_id, f"log out {session_id}")

    async def regenerate_qr(self, session_id: str) -> None:
        """Ask for a fresh QR; the QR itself arrives on the event stream (`wait=false`)."""
        path = f"api/sessions/{session_id}/regenerate-qr?wait=false"
        await self._object("POST", path, f"regenerate the QR of {session_id}")

    async def request_pairing_code(self, session_id: str, phone: str) -> None:
        """Ask for a pairing code for `phone`; the code itself (and every renewal) arrives
        on the event stream (`wait=false`). Starting a stopped session may take a while."""
        path = f"api/sessions/{session_id}/pairing-code?wait=false"
        what = f"get a pairing code for {session_id}"
        await self._object("POST", path, what, json_body={"phone": phone}, timeout=SLOW_CALL)

    async def open_window(self, session_id: str) -> None:
        """Show the session (waiting for its passkey) in a window on the instance's screen."""
        path = f"api/sessions/{session_id}/open-window"
        await self._object("POST", path, f"open a window for {session_id}", timeout=SLOW_CALL)

    async def warm_up(self, pages: int, seconds: float) -> int:
        """Have the instance keep about `pages` login pages booted for `seconds`
        (`POST /api/warm-pool`); returns the pages its pool keeps now. Growing the pool
        returns at once (pages boot in the background); shrinking closes pages first."""
        what = f"warm up {pages} login page(s)"
        body = {"pages": pages, "seconds": seconds}
        data = await self._object("POST", "api/warm-pool", what, json_body=body)
        target = data.get("warm_target")
        return target if isinstance(target, int) and not isinstance(target, bool) else 0

    async def _act(self, verb: str, session_id: str, what: str) -> None:
        # Stop, restart and log out may save the page's login first: seconds at the real
        # client's weight, and more on an instance near its memory floor (a stop there
        # outran 10 s while it went on and finished), so they get the slow calls' time.
        await self._object("POST", f"api/sessions/{session_id}/{verb}", what, timeout=SLOW_CALL)

    async def events(self, on_open: Callable[[], None] | None = None) -> AsyncIterator[EngineEvent]:
        """Events from `/api/events` until the stream ends; undecodable ones are skipped.

        `on_open` runs once the instance has accepted the subscription, so a caller
        can read a snapshot knowing no later change will be missed. A second call
        resumes after the last event seen (`Last-Event-ID`), so a brief network
        blip loses nothing the instance still buffers.
        """
        headers = {"Accept": "text/event-stream"}
        if self.last_event_id:
            headers["Last-Event-ID"] = self.last_event_id
        try:
            async with self._client.stream(
                "GET",
                "api/events",
                headers=headers,
                timeout=httpx.Timeout(10.0, read=None),
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise self._refused(response, "subscribe to events")
                if on_open is not None:
                    on_open()
                async for event_id, data in _sse_frames(response.aiter_lines()):
                    if event_id:
                        self.last_event_id = event_id
                    event = _decode_event(data)
                    if event is not None:
                        yield event
        except httpx.HTTPError as exc:
            raise InstanceUnavailable(
                f"lost the event stream of {self.name}: {type(exc).__name__}"
            ) from None

    # -------------------------------------------------------------- internals

    async def _object(
        self,
        method: str,
        path: str,
        what: str,
        *,
        json_body: Any = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        data = await self._json(method, path, what, json_body=json_body, timeout=timeout)
        if not isinstance(data, dict):
            raise InstanceRefused(
                f"{self.name} sent an unexpected answer when asked to {what}", status_code=200
            )
        return data

    async def _json(
        self,
        method: str,
        path: str,
        what: str,
        *,
        json_body: Any = None,
        timeout: float | None = None,
    ) -> Any:
        extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        try:
            response = await self._client.request(method, path, json=json_body, **extra)
        except httpx.TimeoutException:
            raise InstanceUnavailable(
                f"{self.name} did not answer in time when asked to {what}; "
                "it may be overloaded or restarting"
            ) from None
        except httpx.HTTPError as exc:
            raise InstanceUnavailable(
                f"cannot reach {self.name} to {what} ({type(exc).__name__}); "
                "it may be restarting, try again shortly"
            ) from None
        if response.status_code >= 400:
            raise self._refused(response, what)
        if not response.content:
            return {}
        try:
            return response.json()
        except ValueError:
            raise InstanceRefused(
                f"{self.name} sent an answer that is not JSON when asked to {what}",
                status_code=response.status_code,
            ) from None

    def _refused(self, response: httpx.Response, what: str) -> InstanceRefused:
        detail = ""
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            detail = str(body.get("message") or body.get("error") or body.get("detail") or "")
        shown = f": {detail}" if detail else ""
        return InstanceRefused(
            f"{self.name} refused to {what} (HTTP {response.status_code}){shown}",
            status_code=response.status_code,
        )


async def _sse_frames(lines: AsyncIterator[str]) -> AsyncIterator[tuple[str, str]]:
    """(id, data) of each server-sent event; multi-line data joined by newlines."""
    buffer: list[str] = []
    event_id = ""
    async for line in lines:
        if not line:
            if buffer:
                yield event_id, "\n".join(buffer)
                buffer = []
            continue
        if line.startswith(":"):
            continue  # comment / keep-alive
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "data":
            buffer.append(value)
        elif field == "id":
            event_id = value
    if buffer:
        yield event_id, "\n".join(buffer)


def _decode_event(data: str) -> EngineEvent | None:
    try:
        raw = json.loads(data)
        if not isinstance(raw, dict):
            raise ValueError("not an object")
        return event_from_dict(raw)
    except (ValueError, TypeError) as exc:
        log.debug("skipping an event the engine cannot read: %s", exc)
        return None
