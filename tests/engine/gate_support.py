"""Helpers of the gate tests (not a test module): a loopback forwarding proxy that
counts what passes through it, an X server of the test's own (Xvfb), and a launcher
whose windows carry a virtual authenticator holding the test phone's passkey."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page

from app.engine.browser.launch import ChromiumLauncher

_MAX_HEAD = 64 * 1024


@dataclass
class Passed:
    """One request the proxy saw: `GET http://host:port/path` or `CONNECT host:port`."""

    method: str
    target: str
    authorized: bool


@dataclass
class ForwardingProxy:
    """An HTTP proxy on 127.0.0.1 (plain requests and CONNECT tunnels), optionally asking
    for Basic credentials, optionally silent (accepts connections, never answers)."""

    username: str = ""
    password: str = ""
    silent: bool = False
    seen: list[Passed] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url_with(self, username: str, password: str) -> str:
        return f"http://{username}:{password}@127.0.0.1:{self.port}"

    async def __aenter__(self) -> ForwardingProxy:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 5)

    def requests_to(self, host_port: str) -> list[Passed]:
        return [p for p in self.seen if host_port in p.target and p.authorized]

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            if self.silent:
                await asyncio.Event().wait()  # never answers (cancelled at teardown)
            await self._serve(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        if len(head) > _MAX_HEAD:
            return
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ", 2)
        headers = [line for line in lines[1:] if line]
        authorized = self._authorized(headers)
        self.seen.append(Passed(method, target, authorized))
        if not authorized:
            writer.write(
                b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                b'Proxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n'
                b"Connection: close\r\n\r\n"
            )
            await writer.drain()
            return
        if method == "CONNECT":
            host, port = target.rsplit(":", 1)
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
        else:
            rest = target.split("://", 1)[1]
            host_port, _, path = rest.partition("/")
            host, _, port = host_port.partition(":")
            up_reader, up_writer = await asyncio.open_connection(host, int(port or 80))
            kept = [
                h
                for h in headers
                if not h.lower().startswith(("proxy-", "connection:", "keep-alive:"))
            ]
            # One request per connection: every page load reaches (and is counted by) us.
            request = [f"{method} /{path} {version}", *kept, "Connection: close", "", ""]
            up_writer.write("\r\n".join(request).encode("latin-1"))
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    def _authorized(self, headers: list[str]) -> bool:
        if not self.username:
            return True
        wanted = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return any(
            h.lower().startswith("proxy-authorization:") and h.split()[-1] == wanted
            for h in headers
        )


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            writer.close()


@contextlib.contextmanager
def xvfb() -> Iterator[str]:
    """An X server of this test's own; yields its DISPLAY (`:N`). Stopped by its pid.
    Skips the test, saying how to install it, when there is no Xvfb."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (Debian: apt-get install xvfb); the window needs it")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x900x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as pipe:
            number = pipe.readline().strip()
        if not number:
            raise RuntimeError("Xvfb did not start")
        yield f":{number}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


async def add_phone_passkey(
    context: BrowserContext, page: Page, passkey: dict[str, Any], rp_id: str
) -> None:
    """Give `page` a virtual authenticator holding the test phone's passkey (`GET
    /phone/passkey`), as the customer's phone answers the hybrid passkey prompt."""
    raw = base64.urlsafe_b64decode(
        passkey["credential_id"] + "=" * (-len(passkey["credential_id"]) % 4)
    )
    cdp = await context.new_cdp_session(page)
    await cdp.send("WebAuthn.enable", {"enableUI": False})
    added = await cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "hybrid",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    credential = {
        "credentialId": base64.b64encode(raw).decode(),
        "isResidentCredential": False,
        "rpId": rp_id,
        "privateKey": passkey["private_key"],
        "signCount": 0,
    }
    await cdp.send(
        "WebAuthn.addCredential",
        {"authenticatorId": added["authenticatorId"], "credential": credential},
    )


class _Context:
    """A context whose new pages get the phone's passkey before they load anything."""

    def __init__(self, context: BrowserContext, launcher: PhoneInWindowLauncher) -> None:
        self._context = context
        self._launcher = launcher

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)

    async def new_page(self) -> Page:
        page = await self._context.new_page()
        launcher = self._launcher
        await add_phone_passkey(self._context, page, launcher.passkey, launcher.rp_id)
        return page


class _Browser:
    def __init__(self, browser: Browser, launcher: PhoneInWindowLauncher) -> None:
        self._browser = browser
        self._launcher = launcher
        self.windows: list[_Context] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._browser, name)

    async def new_context(self, **kwargs: Any) -> _Context:
        context = _Context(await self._browser.new_context(**kwargs), self._launcher)
        self.windows.append(context)
        return context


class PhoneInWindowLauncher(ChromiumLauncher):
    """The real launcher; its windows hold the test phone's passkey, as the customer's
    phone would answer the hybrid passkey prompt. `windows` counts the windows opened."""

    def __init__(self, settings: Any, *, passkey: dict[str, Any], rp_id: str) -> None:
        super().__init__(settings)
        self.passkey = passkey
        self.rp_id = rp_id
        self.browsers: list[_Browser] = []

    async def launch_window(self) -> Browser:
        browser = _Browser(await super().launch_window(), self)
        self.browsers.append(browser)
        return browser  # type: ignore[return-value]  # duck-typed wrapper
