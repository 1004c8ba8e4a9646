"""The console's "Scan with test phone" goes through the sandbox's own client, and each
way a scan can fail reaches the status bar as a sentence that says what to do."""

from __future__ import annotations

import json

import httpx
import pytest

from app.ui.test_phone import ScanError, post_scan

URL = "http://127.0.0.1:9/"


def _answering(status: int, seen: list[dict[str, str]]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/phone/scan"
        seen.append(json.loads(request.content))
        return httpx.Response(status, json={"error": "no"} if status >= 400 else {"ok": True})

    return httpx.MockTransport(handle)


async def test_a_scan_posts_the_qr_and_the_phone() -> None:
    seen: list[dict[str, str]] = []
    await post_scan(URL, "2@ref,a,b,c,WEB", "6281100000001", transport=_answering(200, seen))
    assert seen == [{"qr": "2@ref,a,b,c,WEB", "phone": "6281100000001"}]


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (404, "the sandbox does not know this QR"),
        (409, "this QR was already used"),
        (410, "this QR has expired; wait for the next one"),
        (503, "HTTP 503"),
    ],
)
async def test_a_refused_scan_says_why(status: int, words: str) -> None:
    with pytest.raises(ScanError) as refused:
        await post_scan(URL, "2@ref", "62811", transport=_answering(status, []))
    assert str(refused.value) == f"Test phone did not link: {words}."


async def test_a_sandbox_that_does_not_answer_is_named() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(ScanError) as unreachable:
        await post_scan(URL, "2@ref", "62811", transport=httpx.MockTransport(refuse))
    message = str(unreachable.value)
    assert message.startswith(f"The sandbox test phone is not reachable at {URL}phone/scan")
    assert "connection refused" in message
