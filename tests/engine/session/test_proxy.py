"""Per-account proxies with real Chromium: each session's context goes out through its
own proxy (a loopback forwarding proxy the test runs and counts), an account without
one does not touch it, credentials are used and never shown, and a proxy that refuses
or stays silent parks the session as `proxy_unreachable` instead of a QR time-out."""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from app.domain.events import QrIssued, SessionReady, SessionStateChanged
from app.domain.proxy import parse_proxy
from app.domain.states import Reason, SessionState
from app.engine.wire import encode_session
from tests.engine.gate_support import ForwardingProxy
from tests.engine.session_support import world

pytestmark = pytest.mark.e2e
S = SessionState
PHONE = "6281234567890"
SECRET = "s3cret-Pa55"


async def test_only_the_account_with_a_proxy_goes_through_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with world(tmp_path) as w, ForwardingProxy("alice", SECRET) as proxy:
        sandbox = urlsplit(w.sandbox.url).netloc
        host = await w.host(warm_pool=1)  # a warm page exists, and must not be used for s1
        await host.pool.wait_ready(1)  # type: ignore[union-attr]
        with_proxy = parse_proxy(proxy.url_with("alice", SECRET))
        await host.start_session(session_id="s1", workspace_id=1, proxy=with_proxy)
        await w.scan("s1", PHONE)
        await w.recorder.wait_for(SessionReady, lambda e: e.session_id == "s1")
        loads = [p for p in proxy.requests_to(sandbox) if p.method == "GET"]
        tunnels = [p for p in proxy.requests_to(sandbox) if p.method == "CONNECT"]
        assert len(loads) == 1, "the login page came through the proxy"
        assert tunnels, "and so did its login socket"
        assert any(not p.authorized for p in proxy.seen), "the proxy asked for credentials"
        # An account without a proxy: nothing of it reaches the proxy.
        seen_before = len(proxy.seen)
        mark = len(w.recorder.events)
        await host.start_session(session_id="s2", workspace_id=1)
        await w.scan("s2", "6281234567891", start=mark)
        await w.recorder.wait_for(SessionReady, lambda e: e.session_id == "s2", start=mark)
        assert len(proxy.seen) == seen_before
        # Shown everywhere without its password.
        info = host.session("s1")
        assert info.proxy == f"{proxy.url.replace('://', '://alice@')}"
        assert SECRET not in repr(info) and SECRET not in str(encode_session(info))
        assert SECRET not in repr(with_proxy)
        assert SECRET not in caplog.text


async def test_wrong_password_is_proxy_unreachable(tmp_path: Path) -> None:
    async with world(tmp_path) as w, ForwardingProxy("alice", SECRET) as proxy:
        host = await w.host()
        wrong = parse_proxy(proxy.url_with("alice", "not-it"))
        await host.start_session(session_id="s1", workspace_id=1, proxy=wrong)
        failed = await w.recorder.wait_state("s1", S.FAILED)
        assert failed.reason is Reason.PROXY_UNREACHABLE
        assert "407" in failed.detail and "not-it" not in failed.detail
        assert not w.recorder.of(QrIssued, "s1")


async def test_a_refusing_proxy_is_named_not_a_qr_timeout(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        async with ForwardingProxy() as gone:
            address = gone.url  # a port nobody listens on once this block ends
        host = await w.host()
        await host.start_session(session_id="s1", workspace_id=1, proxy=parse_proxy(address))
        failed = await w.recorder.wait_state("s1", S.FAILED)
        assert failed.reason is Reason.PROXY_UNREACHABLE
        assert address.split("//")[1] in failed.detail
        steps = [e.state for e in w.recorder.of(SessionStateChanged, "s1")]
        assert steps == [S.STARTING, S.FAILED], "no retries through a dead proxy"


async def test_a_silent_proxy_is_named_after_the_boot_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("app.engine.browser.proxy.PROBE_TIMEOUT", 1.0)
    async with world(tmp_path) as w, ForwardingProxy(silent=True) as proxy:
        host = await w.host(boot_timeout=4.0)
        await host.start_session(session_id="s1", workspace_id=1, proxy=parse_proxy(proxy.url))
        failed = await w.recorder.wait_state("s1", S.FAILED)
        assert failed.reason is Reason.PROXY_UNREACHABLE
        assert "did not answer" in failed.detail
