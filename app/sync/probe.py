"""`pairdesk sync test`: one signed request to the central API, and what its answer means.

The probe posts a harmless, correctly signed body to the webhook URL. Its
event name (`pairdesk_connection_test`) is not one of the contract's, so a
platform that checked the signature and the timestamp either ignores it
(2xx) or refuses the content (422): both prove that this machine's secret,
clock and URL are right, and neither changes any account on the platform.

Anything else is explained for the operator:
- 401: the signature or the timestamp was refused. The server's `Date`
  header tells a clock more than the 300 s window off from a wrong secret;
  an HTML page instead of an API answer points at a wrong URL;
- 404, 405, a redirect or an HTML page: `central_url` is not the platform's
  API base URL;
- 429 and 5xx: the API is there but cannot take webhooks right now;
- no answer: the API is unreachable.

The secret is only ever used to sign; no line of the verdict contains it.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

import httpx

from app.redaction import redact_url
from app.sync.client import WEBHOOK_PATH
from app.sync.signing import Secret, signed_headers

__all__ = ["PROBE_EVENT", "SKEW_WINDOW", "Verdict", "explain", "probe_webhook"]

PROBE_EVENT = "pairdesk_connection_test"
SKEW_WINDOW = 300  # seconds the receiver tolerates between X-Timestamp and its clock
SKEW_SUSPECT = 240  # closer than this to the window, a slow request could still cross it
ANSWER_SHOWN = 200  # characters of the answer quoted


@dataclass(frozen=True)
class Verdict:
    """The outcome of a probe: `ok` when the signature and clock were accepted."""

    ok: bool
    headline: str
    details: list[str] = field(default_factory=list)
    status: int | None = None


def probe_body(now: float) -> bytes:
    document = {
        "event": PROBE_EVENT,
        "data": {
            "message": "signature check sent by `pairdesk sync test`; safe to ignore",
            "sent_at": int(now),
        },
    }
    return json.dumps(document, separators=(",", ":")).encode("utf-8")


async def probe_webhook(
    *,
    central_url: str,
    secret: Secret,
    timeout: float = 10.0,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], float] = time.time,
) -> Verdict:
    """Send one signed test request to `central_url`'s webhook path and explain the answer."""
    url = central_url.rstrip("/") + WEBHOOK_PATH
    now = clock()
    body = probe_body(now)
    headers = signed_headers(secret, body, timestamp=int(now), event_id=str(uuid.uuid4()))
    headers["Content-Type"] = "application/json"
    headers["Accept"] = "application/json"
    try:
        async with httpx.AsyncClient(
            transport=transport, timeout=httpx.Timeout(timeout), follow_redirects=False
        ) as http:
            response = await http.post(url, content=body, headers=headers)
    except httpx.TimeoutException:
        return Verdict(
            False,
            f"no answer from {redact_url(url)} within {timeout:g} s",
            [
                "the central API is unreachable or too slow; check central_url, the network "
                "and that the platform is up",
                "events wait in the outbox meanwhile; nothing is lost",
            ],
        )
    except httpx.TransportError as exc:
        return Verdict(
            False,
            f"cannot reach {redact_url(url)}",
            [
                f"the central API is unreachable ({str(exc) or type(exc).__name__})",
                "check central_url (host, port, http or https), DNS and firewalls, and that "
                "the platform is up; events wait in the outbox meanwhile",
            ],
        )
    return explain(response, url=redact_url(url), sent_at=now)


def explain(response: httpx.Response, *, url: str, sent_at: float) -> Verdict:
    """What the answer to the probe means, in the operator's terms (`url` as shown: redacted)."""
    status = response.status_code
    answer = _answer(response)
    skew = _skew(response, sent_at)
    if 200 <= status < 300 or status == 422:
        how = (
            "took the test request"
            if status < 300
            else "refused only the test event's content, as expected"
        )
        details = [f"the central API {how} (HTTP {status}: {answer})"]
        details.append("webhooks from this machine will be accepted")
        if skew is not None and abs(skew) > 60:
            details.append(f"note: {_skew_text(skew)}; keep it well inside {SKEW_WINDOW} s")
        return Verdict(True, "signature and clock accepted", details, status)
    if status == 401:
        return _unauthorized(response, answer, skew)
    if _looks_like_page(response) or status in (404, 405) or 300 <= status < 400:
        where = ""
        if 300 <= status < 400:
            where = f" (redirected to {response.headers.get('Location', '?')})"
        return Verdict(
            False,
            f"wrong URL: {url} is not the platform's webhook endpoint",
            [
                f"HTTP {status}{where}: {answer}",
                "set central_url to the platform's base URL, e.g. https://platform.example.com "
                f"(pairdesk adds {WEBHOOK_PATH} itself)",
            ],
            status,
        )
    if status == 429 or status >= 500:
        return Verdict(
            False,
            f"the central API is reachable but cannot take webhooks now (HTTP {status})",
            [
                answer,
                "the signature was not checked; try again later. Events wait in the outbox "
                "and are retried with backoff",
            ],
            status,
        )
    return Verdict(
        False,
        f"the central API refused the request (HTTP {status})",
        [answer, "the signature may be fine; ask the platform team what this answer means"],
        status,
    )


def _unauthorized(response: httpx.Response, answer: str, skew: float | None) -> Verdict:
    mentions_time = any(w in answer.lower() for w in ("timestamp", "clock", "window", "expired"))
    if _looks_like_page(response):
        return Verdict(
            False,
            "refused (HTTP 401) by a login page, not by the webhook API: wrong URL",
            [answer, "set central_url to the platform's API base URL"],
            401,
        )
    if (skew is not None and abs(skew) > SKEW_SUSPECT) or (skew is None and mentions_time):
        shown = _skew_text(skew) if skew is not None else "the API says the timestamp is off"
        return Verdict(
            False,
            "refused (HTTP 401): this machine's clock is off",
            [
                f"{shown}; the API accepts at most {SKEW_WINDOW} s",
                "set the clock right (enable NTP: `timedatectl set-ntp true`, or the "
                "system's time settings), then run `pairdesk sync test` again",
                f"the API said: {answer}",
            ],
            401,
        )
    details = [
        "the signature did not match: webhook_secret (or the file webhook_secret_file "
        "names) differs from the secret the platform verifies with",
        "copy the secret from the platform's configuration, then run `pairdesk sync test` "
        "again; events refused meanwhile can be sent with `pairdesk sync retry-dead`",
    ]
    if skew is not None:
        details.append(f"the clock is within the window ({_skew_text(skew)})")
    else:
        details.append(
            "the API sent no Date header, so a clock more than 300 s off is possible too"
        )
    details.append(f"the API said: {answer}")
    return Verdict(False, "refused (HTTP 401): wrong secret", details, 401)


def _skew(response: httpx.Response, sent_at: float) -> float | None:
    """Our clock minus the server's (positive: we are ahead), from its `Date` header."""
    value = response.headers.get("Date")
    if not value:
        return None
    try:
        server = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return sent_at - server


def _skew_text(skew: float) -> str:
    if abs(skew) < 2:
        return "this machine's clock agrees with the API's"
    side = "ahead of" if skew > 0 else "behind"
    return f"this machine's clock is {abs(skew):.0f} s {side} the API's"


def _looks_like_page(response: httpx.Response) -> bool:
    kind = response.headers.get("Content-Type", "").lower()
    start = response.text.lstrip()[:15].lower()
    return "text/html" in kind or start.startswith(("<!doctype", "<html"))


def _answer(response: httpx.Response) -> str:
    text = " ".join(response.text.split())
    if not text:
        return "(empty answer)"
    return text[:ANSWER_SHOWN] + ("..." if len(text) > ANSWER_SHOWN else "")
