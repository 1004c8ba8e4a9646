"""Serve two Starlette apps on one port: requests under some path prefixes go
to the second app, the rest to the first; both apps' lifespans run.

Used by `pairdesk sandbox --central` to put the reference central API
(`/api/whatsapp/...`, `/central/...`) beside the login simulator. Each app
sees its requests untouched (no root_path rewriting), so both keep their own
routes and `request.app`.
"""

from __future__ import annotations

import contextlib

from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send


class PathDispatch:
    """ASGI app: `other` for paths under `prefixes`, `main` for everything else."""

    def __init__(self, main: Starlette, other: Starlette, prefixes: tuple[str, ...]) -> None:
        self.main = main
        self.other = other
        self.prefixes = tuple(p.rstrip("/") for p in prefixes)

    def pick(self, path: str) -> Starlette:
        for prefix in self.prefixes:
            if path == prefix or path.startswith(prefix + "/"):
                return self.other
        return self.main

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        await self.pick(scope.get("path", ""))(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        await receive()  # lifespan.startup
        async with contextlib.AsyncExitStack() as stack:
            try:
                for app in (self.main, self.other):
                    await stack.enter_async_context(app.router.lifespan_context(app))
            except Exception as exc:  # reported to the server, which refuses to start
                await send({"type": "lifespan.startup.failed", "message": str(exc)})
                return
            await send({"type": "lifespan.startup.complete"})
            await receive()  # lifespan.shutdown
        await send({"type": "lifespan.shutdown.complete"})
