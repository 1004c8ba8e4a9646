"""Run a simulator in-process on a free loopback port.

`SandboxServer` is both a sync and an async context manager:

    with SandboxServer(SandboxOptions(time_scale=0.05)) as sandbox:   # own thread
        page.goto(sandbox.url)

    async with SandboxServer() as sandbox:                            # this loop
        await page.goto(sandbox.url)

In the threaded form the world (`.world`) lives on the server's loop: read it
as a snapshot, and drive the simulator through HTTP (`TestPhone`).
"""

from __future__ import annotations

import contextlib
from types import TracebackType
from typing import Any

from starlette.applications import Starlette

from app.sandbox._app import create_simulator_app
from app.sandbox._options import SandboxOptions
from app.sandbox._world import SandboxWorld
from app.serving import ServerThread, serve_async


class SandboxServer:
    """A simulator served on `host:port` (port 0: any free port); `.url` ends in '/'."""

    def __init__(
        self, options: SandboxOptions | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.options = options or SandboxOptions()
        self.app: Starlette = create_simulator_app(self.options)
        self.world: SandboxWorld = self.app.state.sandbox
        self.url = ""
        self._host = host
        self._port = port
        self._thread: ServerThread | None = None
        self._async_cm: contextlib.AbstractAsyncContextManager[str] | None = None

    # ------------------------------------------------------------- threaded

    def start(self, timeout: float = 15.0) -> str:
        """Serve from a daemon thread; returns the base URL once it listens."""
        if self._thread is not None or self._async_cm is not None:
            raise RuntimeError("this SandboxServer is already running")
        self._thread = ServerThread(self.app, host=self._host, port=self._port)
        self.url = self._thread.start(timeout)
        return self.url

    def stop(self) -> None:
        if self._thread is not None:
            self._thread.stop()
            self._thread = None

    def __enter__(self) -> SandboxServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ---------------------------------------------------------- on this loop

    async def __aenter__(self) -> SandboxServer:
        if self._thread is not None or self._async_cm is not None:
            raise RuntimeError("this SandboxServer is already running")
        cm = serve_async(self.app, self._host, self._port)
        self.url = await cm.__aenter__()
        self._async_cm = cm
        return self

    async def __aexit__(self, *exc: Any) -> None:
        cm, self._async_cm = self._async_cm, None
        if cm is not None:
            await cm.__aexit__(*exc)
