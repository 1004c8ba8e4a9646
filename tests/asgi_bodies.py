"""Drive an ASGI app with a huge streamed body and count how much of it the app reads."""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message

CHUNK = 64 * 1024


class StreamedBody:
    """`receive` for a body of `total` bytes, produced lazily in 64 KiB chunks."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.read = 0  # bytes the app pulled

    async def __call__(self) -> Message:
        if self.read >= self.total:
            return {"type": "http.disconnect"}
        chunk = min(CHUNK, self.total - self.read)
        self.read += chunk
        return {"type": "http.request", "body": b"x" * chunk, "more_body": self.read < self.total}


async def call(
    app: ASGIApp,
    method: str,
    path: str,
    body: StreamedBody,
    *,
    headers: dict[str, str] | None = None,
    query: str = "",
) -> tuple[int, bytes]:
    """Run one request through `app`; returns (status, answer body)."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 2),
    }
    answer: dict[str, Any] = {"status": 0, "body": b""}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    await app(scope, body, send)
    return answer["status"], answer["body"]
