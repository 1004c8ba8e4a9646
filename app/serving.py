"""Run an ASGI app with uvicorn on a loopback port, in-process.

Used by the sandbox, the reference central API and the instance server, from
the CLI (blocking), from async code (`serve_async`) and from tests or the
console (`ServerThread`, its own loop in a daemon thread). Port 0 picks a free
port; the bound URL is known once the server is listening.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import AsyncIterator
from typing import Any

import uvicorn


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on
    # sockets whose `proto` says TCP, and accepted connections inherit the listener's.
    # With Nagle on, a response written in two parts (headers, then body) waited for
    # the client's delayed ACK of the first: 40 ms on every answer and streamed event
    # of a kept-alive connection (docs/BENCHMARKS.md, "Nagle's algorithm").
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(
            exc.errno, f"cannot listen on {host}:{port} ({exc.strerror}); choose another port"
        ) from None
    sock.set_inheritable(True)
    return sock


def base_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the owner handles signals
        pass


def _config(app: Any, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,
        lifespan="on",
        ws="auto",
        timeout_graceful_shutdown=2,
    )


@contextlib.asynccontextmanager
async def serve_async(
    app: Any, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning"
) -> AsyncIterator[str]:
    """Serve `app` on the running loop while the block runs; yields the base URL."""
    sock = _bind(host, port)
    server = _Server(_config(app, log_level))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("server stopped before it started")
            await asyncio.sleep(0.01)
        yield base_url(host, sock.getsockname()[1])
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
        sock.close()


class ServerThread:
    """Serve an ASGI app from a daemon thread; `start()` returns once it listens."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self._app = app
        self._host = host
        self._port = port
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="asgi-server", daemon=True)
        self.url = ""

    def start(self, timeout: float = 15.0) -> str:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("server did not start in time")
        if self._error is not None:
            raise self._error
        return self.url

    def stop(self, timeout: float = 10.0) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)

    def __enter__(self) -> ServerThread:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # surfaced to start()
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with serve_async(self._app, self._host, self._port) as url:
            self.url = url
            self._ready.set()
            await self._stop.wait()


def serve_forever(app: Any, host: str, port: int, on_ready: Any = None) -> None:
    """Blocking serve for CLI commands; Ctrl+C / SIGTERM stop it cleanly."""
    import signal

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        async with serve_async(app, host, port) as url:
            if on_ready is not None:
                on_ready(url)
            await stop.wait()

    asyncio.run(main())
