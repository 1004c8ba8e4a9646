"""QR-to-webhook latency of the sync layer alone, against the reference central API.

`measure_webhook_latency(n)` starts the reference central API and runs
`app.sync._latency` against it: n QR events rendered, written to a real
SQLite outbox and delivered by the real deliverer, each timed from the event
(and from the commit) to the moment the API verified and logged it. No
browsers, so it runs anywhere in seconds; the scenario `webhook-latency`
measures the whole path through Chromium and an instance.

By default the API runs in its own process (`pairdesk sandbox
--central-only`), as the platform would: in the same process its request
handling would compete with the sender for the interpreter lock and inflate
the figures. `in_process=True` serves it from a thread instead (quicker to
start, used by the tests). Both ends stamp this machine's wall clock.

Run it alone with `python -m app.bench._sync_latency [n]` (JSON on stdout).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import httpx

from app.sync._latency import measure_webhook_latency as _measure

__all__ = ["central_document", "central_process", "measure_webhook_latency"]

QR_EVENT = "qr_code_generated"
START_TIMEOUT = 60.0

Receiver = tuple[str, Callable[[], Mapping[str, float]], Callable[[], int]]


async def measure_webhook_latency(
    n: int = 200, *, in_process: bool = False, **options: Any
) -> dict[str, Any]:
    """Latency figures in ms (`event_to_received_ms`, `enqueue_to_received_ms`, ...)."""
    secret = secrets.token_hex(16)
    serve = _thread_receiver if in_process else _process_receiver
    async with serve(secret) as (url, arrivals, rejected):
        result = await _measure(n, central_url=url, secret=secret, arrivals=arrivals, **options)
        result["rejected"] = rejected()
    result["receiver"] = "thread" if in_process else "process"
    return result


def _first_arrivals(entries: list[dict[str, Any]]) -> dict[str, float]:
    first: dict[str, float] = {}
    for entry in entries:
        if entry.get("event_id") and not entry.get("duplicate"):
            first.setdefault(str(entry["event_id"]), float(entry["received_at"]))
    return first


@contextlib.asynccontextmanager
async def _thread_receiver(secret: str) -> AsyncIterator[Receiver]:
    from app.sandbox.central import CentralServer

    server = CentralServer(secret)
    url = await asyncio.to_thread(server.start)
    try:
        yield (
            url,
            lambda: _first_arrivals([e.to_json() for e in server.state.events(event=QR_EVENT)]),
            lambda: len(server.state.rejections()),
        )
    finally:
        await asyncio.to_thread(server.stop)


@contextlib.asynccontextmanager
async def central_process(secret: str) -> AsyncIterator[str]:
    """The reference central API in its own process (`pairdesk sandbox --central-only`),
    verifying `secret`; yields its base URL, ends the process on exit (by its pid)."""
    env = dict(os.environ, PAIRDESK_WEBHOOK_SECRET=secret, PAIRDESK_LOG_LEVEL="WARNING")
    env.pop("PAIRDESK_CENTRAL_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "sandbox", "--central-only"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    try:
        yield await asyncio.wait_for(asyncio.to_thread(_read_url, process), START_TIMEOUT)
    finally:
        process.terminate()
        try:
            await asyncio.to_thread(process.wait, 10)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait)


def central_document(
    http: httpx.Client, url: str, event: str = QR_EVENT, *, since: int = 0
) -> dict[str, Any]:
    """`GET /central/events`: the deliveries the API accepted (`data`) and `rejected`;
    with `since`, only the entries after that `seq` (a poll during a measurement must
    not make the API serialise its whole log, every QR image in it, on the loop that
    receives the webhooks being measured)."""
    answer: dict[str, Any] = http.get(
        url.rstrip("/") + "/central/events", params={"event": event, "since": since}
    ).json()
    return answer


@contextlib.asynccontextmanager
async def _process_receiver(secret: str) -> AsyncIterator[Receiver]:
    async with central_process(secret) as url:
        with httpx.Client(timeout=10) as http:
            yield (
                url,
                lambda: _first_arrivals(central_document(http, url)["data"]),
                lambda: len(central_document(http, url)["rejected"]),
            )


def _read_url(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("central: "):
            return line.split(" ", 1)[1].strip()
    raise RuntimeError("the reference central API process ended before it was ready")


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    print(json.dumps(asyncio.run(measure_webhook_latency(count)), indent=2))
