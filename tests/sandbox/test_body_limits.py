"""The reference central API and the sandbox read no body past their cap (413 early)."""

from __future__ import annotations

from app.http_limits import MAX_BODY
from app.sandbox import SandboxOptions, create_simulator_app
from app.sandbox._control import MAX_BODY as SANDBOX_BODY
from app.sandbox.central import WEBHOOK_PATH, create_central_app
from tests.asgi_bodies import CHUNK, StreamedBody, call

HUGE = 400 * 1024 * 1024


async def test_central_refuses_a_huge_webhook_without_reading_it() -> None:
    app = create_central_app("secret")
    declared = StreamedBody(HUGE)
    status, _ = await call(
        app, "POST", WEBHOOK_PATH, declared, headers={"content-length": str(HUGE)}
    )
    assert (status, declared.read) == (413, 0)
    streamed = StreamedBody(HUGE)
    status, _ = await call(app, "POST", WEBHOOK_PATH, streamed)
    assert status == 413
    assert streamed.read <= MAX_BODY + CHUNK


async def test_central_answers_422_not_500_to_deeply_nested_json() -> None:
    app = create_central_app("secret")
    body = b"[" * 100_000 + b"]" * 100_000
    status, _ = await call(app, "POST", "/central/faults", _Fixed(body))
    assert status == 422


async def test_the_sandbox_refuses_a_huge_body_without_reading_it() -> None:
    app = create_simulator_app(SandboxOptions())
    streamed = StreamedBody(HUGE)
    status, _ = await call(app, "POST", "/phone/scan", streamed)
    assert status == 413
    assert streamed.read <= SANDBOX_BODY + CHUNK


class _Fixed(StreamedBody):
    def __init__(self, body: bytes) -> None:
        super().__init__(len(body))
        self.body = body

    async def __call__(self):  # type: ignore[no-untyped-def]
        self.read = self.total
        return {"type": "http.request", "body": self.body, "more_body": False}
