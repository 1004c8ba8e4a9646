"""An account's proxy in Chromium: the per-context settings, and telling a proxy fault
from any other failure to open the login page.

Each session's browser context gets its own proxy (Playwright's per-context
`proxy`, which needs no proxy on the browser itself on Linux). Chromium sends
loopback addresses around a proxy unless the bypass list says `<-loopback>`;
pairdesk always says it, so an account with a proxy sends *everything*
through it (the sandbox on 127.0.0.1 included) and nothing leaks past it.

When a page with a proxy cannot open, `proxy_failure` says whether the proxy
is the cause (Chromium's `ERR_PROXY_*`/`ERR_TUNNEL_*`/`ERR_SOCKS_*` errors, a
407; otherwise a probe of the proxy: it does not accept a connection, does not
answer, or refuses the account's credentials), so
the session is parked as `proxy_unreachable` instead of retried into a silent
QR time-out. Messages show the proxy's display form only, never its password.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
from urllib.parse import urlsplit

from playwright.async_api import ProxySettings

from app.domain.proxy import Proxy
from app.engine.browser.whatsapp_web import ProxyRefused

__all__ = ["PROXY_BYPASS", "playwright_proxy", "proxy_failure"]

PROXY_BYPASS = "<-loopback>"  # route loopback through the proxy too (Chromium skips it)
PROBE_TIMEOUT = 5.0
_PROXY_ERRORS = re.compile(
    r"net::(ERR_PROXY_[A-Z_]+|ERR_TUNNEL_CONNECTION_FAILED|ERR_SOCKS_[A-Z_]+|"
    r"ERR_NO_SUPPORTED_PROXIES|ERR_MANDATORY_PROXY_CONFIGURATION_FAILED|"
    r"ERR_INVALID_AUTH_CREDENTIALS|ERR_UNEXPECTED_PROXY_AUTH)"
)


def playwright_proxy(proxy: Proxy) -> ProxySettings:
    """The `proxy=` of `new_context` / `launch_persistent_context` for `proxy`."""
    settings: ProxySettings = {"server": proxy.server, "bypass": PROXY_BYPASS}
    if proxy.username:
        settings["username"] = proxy.username
        settings["password"] = proxy.password
    return settings


async def proxy_failure(exc: BaseException, proxy: Proxy | None, *, target: str = "") -> str:
    """Why opening the page failed because of `proxy` (for the operator), or '' when the
    proxy is not the cause (or the session has none). `target` is the page's URL, which
    a probe asks the proxy to reach after a time-out."""
    if proxy is None:
        return ""
    text = str(exc)
    if isinstance(exc, ProxyRefused):
        return f"proxy {proxy.display}: {exc}"
    match = _PROXY_ERRORS.search(text)
    if match:
        return f"proxy {proxy.display} failed ({match.group(1)})"
    problem = await _probe(proxy, target)
    return f"proxy {proxy.display} {problem}" if problem else ""


async def _probe(proxy: Proxy, target: str) -> str:
    """'' when the proxy accepts a connection and answers a first request now, else what
    went wrong. Any answer counts (even a refusal): only silence is the proxy's fault."""
    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
    except TimeoutError:
        return f"did not accept a connection within {PROBE_TIMEOUT:.0f} s"
    except OSError as exc:
        return f"refused the connection ({exc.strerror or exc})"
    try:
        hello = _first_request(proxy, target)
        if hello is None:
            return ""  # TLS to the proxy: accepting the connection is all we check
        writer.write(hello)
        async with asyncio.timeout(PROBE_TIMEOUT):
            answer = await (reader.read(2) if proxy.scheme == "socks5" else reader.readline())
        if not answer:
            return "closed the connection without answering"
        if answer.split(b" ")[1:2] == [b"407"]:
            return "refused the account's user name or password (HTTP 407)"
        return ""
    except TimeoutError:
        return f"accepted a connection but did not answer within {PROBE_TIMEOUT:.0f} s"
    except OSError as exc:
        return f"dropped the connection ({exc.strerror or exc})"
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def _first_request(proxy: Proxy, target: str) -> bytes | None:
    if proxy.scheme == "socks5":
        return b"\x05\x01\x00"  # greeting: one method, no authentication
    if proxy.scheme != "http":
        return None
    parts = urlsplit(target or "https://web.whatsapp.com/")
    host = parts.hostname or "web.whatsapp.com"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    lines = [f"CONNECT {host}:{port} HTTP/1.1", f"Host: {host}:{port}"]
    if proxy.username:
        token = base64.b64encode(f"{proxy.username}:{proxy.password}".encode()).decode()
        lines.append(f"Proxy-Authorization: Basic {token}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()
