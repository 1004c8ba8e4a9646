"""The engine's public API: the only engine module the console may import.

`Engine` is what the console, the CLI (`serve`, `onboard`) and the benchmark
drive. `open_engine(settings)` builds the real one (supervisor + instance
processes); tests of the console use a fake that satisfies the same Protocol.
All methods are coroutines on the engine's own asyncio loop; events arrive
through `subscribe()` as frozen dataclasses from `app.domain.events`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from app.domain.events import EngineEvent
from app.domain.models import AccountSpec, InstanceInfo, SessionInfo

__all__ = [
    "AccountSpec",
    "Engine",
    "EngineError",
    "InstanceInfo",
    "SessionInfo",
]


class EngineError(RuntimeError):
    """An operation failed in a way the operator can act on; the message says how."""


class Engine(Protocol):
    async def start(self) -> None:
        """Start instances and restore the sessions assigned to them."""

    async def aclose(self) -> None:
        """Snapshot and stop every session, every instance and every Chromium."""

    def subscribe(self) -> AsyncIterator[EngineEvent]:
        """Every event from now on, in order (state changes, QRs, loads, sync)."""
        ...

    async def add_accounts(self, specs: Sequence[AccountSpec]) -> list[SessionInfo]:
        """Create accounts, place them on instances and start them (QR follows)."""
        ...

    async def start_session(self, session_id: str) -> None: ...

    async def stop_session(self, session_id: str) -> None: ...

    async def restart_session(self, session_id: str) -> None: ...

    async def logout_session(self, session_id: str) -> None:
        """Unlink the device and delete local state; the account stays, logged out."""

    async def regenerate_qr(self, session_id: str) -> None: ...

    async def remove_account(self, session_id: str) -> None: ...

    async def list_sessions(self) -> list[SessionInfo]: ...

    async def list_instances(self) -> list[InstanceInfo]: ...

    async def restart_instance(self, instance_id: str) -> None: ...

    async def add_instance(self) -> InstanceInfo: ...
