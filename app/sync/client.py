"""HTTP client of the platform's central API: signed webhook pushes and the active-accounts pull.

One `httpx.AsyncClient` per instance (HTTP/1.1, keep-alive), every request
bounded by `Settings.webhook_timeout`. The transport is injectable
(`httpx.MockTransport`, `httpx.ASGITransport`) so tests need no network.

`post(webhook)` never raises for network trouble: it classifies the answer
into a `PostResult` the deliverer acts on (accepted / retry / dead), with a
message written for the operator. Neither the secret nor the signature ever
appears in a result, an exception or a log line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any

import httpx

from app.config import Settings
from app.redaction import redact_url
from app.sync.payloads import Webhook
from app.sync.signing import Secret, as_secret, signed_headers

WEBHOOK_PATH = "/api/whatsapp/webhooks/webjs"
ACTIVE_PATH = "/api/whatsapp/accounts/active"
BODY_KEPT = 300  # characters of a refusing answer kept for the operator
MAX_RETRY_AFTER = 3600.0
KEEPALIVE = 60.0  # seconds an idle connection to the central API is kept for reuse
CONNECT_TIMEOUT = 5.0  # seconds `connect()` waits; a start never waits for it

log = logging.getLogger(__name__)


class CentralApiError(Exception):
    """The central API could not be reached or answered something unusable (pull side)."""


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    RETRY = "retry"
    DEAD = "dead"


@dataclass(frozen=True)
class PostResult:
    """What happened to one webhook attempt."""

    outcome: Outcome
    status: int | None  # HTTP status, None when no answer came back
    detail: str = ""  # for the operator; empty when accepted
    retry_after: float | None = None  # seconds the server asked us to wait


@dataclass(frozen=True)
class ActiveAccount:
    """An account the platform expects to be connected."""

    session_id: str
    workspace_id: int | None = None
    phone_number: str = ""
    status: str = ""


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """`Retry-After` as seconds from now: delta-seconds or an HTTP date; None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return min(max(0.0, when.timestamp() - now), MAX_RETRY_AFTER)


class CentralClient:
    """Talks to one central API. Close it with `await client.aclose()` (or `async with`)."""

    def __init__(
        self,
        *,
        central_url: str,
        secret: Secret | str,
        instance_url: str = "",
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not central_url:
            raise ValueError("central_url is empty: sync is off, so no client is needed")
        self._base = central_url.rstrip("/")
        self._shown = redact_url(self._base)  # for messages: never the credentials in it
        self._secret = as_secret(secret)
        self._instance_url = instance_url
        self._clock = clock
        self._http = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(timeout),
            # Idle connections are kept a minute (httpx's default is 5 s), so a QR
            # after a quiet spell does not pay a new TCP and TLS handshake; one the
            # server closed meanwhile is noticed before reuse, or retried.
            limits=httpx.Limits(
                max_connections=32, max_keepalive_connections=16, keepalive_expiry=KEEPALIVE
            ),
            headers={"User-Agent": "pairdesk-sync", "Accept": "application/json"},
            http2=False,
            follow_redirects=False,
        )

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        instance_url: str,
        central_url: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> CentralClient:
        """A client for `settings.central_url` (or `central_url`, e.g. the embedded sandbox's),
        signing with `settings.resolved_webhook_secret()` and timing out after
        `settings.webhook_timeout`. Raises ValueError when there is no URL or no secret.
        """
        return cls(
            central_url=central_url or settings.central_url,
            secret=settings.resolved_webhook_secret(),
            instance_url=instance_url,
            timeout=settings.webhook_timeout,
            transport=transport,
        )

    @property
    def webhook_url(self) -> str:
        return self._base + WEBHOOK_PATH

    def __repr__(self) -> str:
        return f"CentralClient({self._shown!r})"

    async def __aenter__(self) -> CentralClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # --------------------------------------------------------------- push

    async def connect(self) -> bool:
        """Open the connection the first webhook will use, so that a QR's webhook right
        after a start does not also pay for the TCP and TLS handshakes with the API.

        A HEAD request to the webhook URL, whose answer is ignored: HEAD changes
        nothing on any server (the API answers it with 405 or 401, and keeps the
        connection). Returns whether an answer came; never raises for I/O trouble."""
        try:
            await self._http.head(self.webhook_url, timeout=CONNECT_TIMEOUT)
        except httpx.HTTPError as exc:
            log.debug("could not open a connection to %s ahead of time: %s", self._shown, exc)
            return False
        return True

    async def post(self, webhook: Webhook) -> PostResult:
        """Send one signed webhook and classify the answer; never raises for I/O trouble."""
        body = webhook.body()
        now = self._clock()
        headers = signed_headers(
            self._secret,
            body,
            timestamp=int(now),
            event_id=webhook.event_id,
            instance_url=self._instance_url,
        )
        headers["Content-Type"] = "application/json"
        try:
            response = await self._http.post(self.webhook_url, content=body, headers=headers)
        except httpx.TimeoutException:
            return PostResult(Outcome.RETRY, None, f"no answer from {self._shown} in time")
        except httpx.TransportError as exc:
            return PostResult(Outcome.RETRY, None, f"cannot reach {self._shown}: {_describe(exc)}")
        return classify(response, now=now)

    # --------------------------------------------------------------- pull

    async def active_accounts(self) -> list[ActiveAccount]:
        """`GET /api/whatsapp/accounts/active`: a bare list or `{"data": [...]}` of accounts."""
        url = self._base + ACTIVE_PATH
        shown = self._shown + ACTIVE_PATH
        headers = signed_headers(self._secret, b"", timestamp=int(self._clock()))
        try:
            response = await self._http.get(url, headers=headers)
        except httpx.TimeoutException:
            raise CentralApiError(f"{shown}: no answer in time") from None
        except httpx.TransportError as exc:
            raise CentralApiError(f"{shown}: cannot reach it ({_describe(exc)})") from None
        if response.status_code != 200:
            raise CentralApiError(
                f"{shown}: HTTP {response.status_code}: {_start(response)}"
                + (_HINT_401 if response.status_code == 401 else "")
            )
        try:
            document: Any = response.json()
        except ValueError:
            raise CentralApiError(f"{shown}: the answer is not JSON: {_start(response)}") from None
        return parse_active(document, source=shown)


_HINT_401 = (
    " (the central API refused the signature: check that webhook_secret matches the "
    "platform's, that this machine's clock is right, and that central_url is the platform)"
)


def classify(response: httpx.Response, *, now: float) -> PostResult:
    """2xx accepted; 429 and 5xx retried (honouring Retry-After); anything else is dead."""
    status = response.status_code
    if 200 <= status < 300:
        return PostResult(Outcome.ACCEPTED, status)
    if status == 429 or status >= 500:
        retry_after = parse_retry_after(response.headers.get("Retry-After"), now=now)
        return PostResult(Outcome.RETRY, status, f"HTTP {status}: {_start(response)}", retry_after)
    detail = f"HTTP {status}: {_start(response)}"
    if status == 401:
        detail += _HINT_401
    elif 300 <= status < 400:
        detail += f" (redirected to {response.headers.get('Location', '?')}; fix central_url)"
    return PostResult(Outcome.DEAD, status, detail)


def parse_active(document: Any, *, source: str) -> list[ActiveAccount]:
    """Accept `[...]` or `{"data": [...]}`; anything else is a clear CentralApiError."""
    rows = document.get("data") if isinstance(document, dict) else document
    if not isinstance(rows, list):
        raise CentralApiError(
            f"{source}: expected a list of accounts or an object with a 'data' list, "
            f"got {type(rows if isinstance(document, dict) else document).__name__}"
        )
    accounts: list[ActiveAccount] = []
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise CentralApiError(f"{source}: account #{index} is not an object")
        session_id = row.get("session_id")
        if not isinstance(session_id, str) or not session_id:
            raise CentralApiError(f"{source}: account #{index} has no session_id")
        workspace = row.get("workspace_id")
        if isinstance(workspace, str) and workspace.isdigit():
            workspace = int(workspace)
        if workspace is not None and (
            not isinstance(workspace, int) or isinstance(workspace, bool)
        ):
            raise CentralApiError(f"{source}: account #{index} has a non-numeric workspace_id")
        accounts.append(
            ActiveAccount(
                session_id=session_id,
                workspace_id=workspace,
                phone_number=str(row.get("phone_number") or ""),
                status=str(row.get("status") or ""),
            )
        )
    return accounts


def _start(response: httpx.Response) -> str:
    text = response.text.strip().replace("\n", " ")
    return (text[:BODY_KEPT] + "...") if len(text) > BODY_KEPT else (text or "(empty body)")


def _describe(exc: httpx.TransportError) -> str:
    return str(exc) or type(exc).__name__
