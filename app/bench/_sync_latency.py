"""QR-to-webhook latency of the sync layer alone, against the reference central API.

`measure_webhook_latency(n)` starts the reference central API on a loopback
port (own thread, as the webhook-latency scenario does) and runs
`app.sync._latency` against it: n QR events rendered, written to a real
SQLite outbox and delivered by the real deliverer, each timed from the event
(and from the commit) to the moment the API verified and logged it. No
browsers, so it runs anywhere in seconds; the scenario `webhook-latency`
measures the whole path through Chromium and an instance.

Run it alone with `python -m app.bench._sync_latency [n]` (JSON on stdout).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
from typing import Any

from app.sandbox.central import CentralServer
from app.sync._latency import measure_webhook_latency as _measure

__all__ = ["measure_webhook_latency"]

QR_EVENT = "qr_code_generated"


async def measure_webhook_latency(n: int = 200, **options: Any) -> dict[str, Any]:
    """Latency figures in ms (`event_to_received_ms`, `enqueue_to_received_ms`, ...)."""
    secret = secrets.token_hex(16)
    server = CentralServer(secret)
    url = await asyncio.to_thread(server.start)

    def arrivals() -> dict[str, float]:
        first: dict[str, float] = {}
        for entry in server.state.events(event=QR_EVENT):
            if entry.event_id and not entry.duplicate:
                first.setdefault(entry.event_id, entry.received_at)
        return first

    try:
        result = await _measure(n, central_url=url, secret=secret, arrivals=arrivals, **options)
    finally:
        await asyncio.to_thread(server.stop)
    result["rejected"] = len(server.state.rejections())
    return result


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    print(json.dumps(asyncio.run(measure_webhook_latency(count)), indent=2))
