"""`StandInEngine`: the `Engine` operations a benchmark's stand-in engine does not offer.

Two console scenarios drive the console's own `EngineHost` with an engine
that is not pairdesk's: `grid.SyntheticEngine` (rows and a steady stream of
events) and `_baseline.ReplacedEngine` (the design pairdesk replaces). Each
writes `start`, `aclose`, `subscribe` and whatever its scenario drives;
everything else comes from here and refuses with `EngineError`, so a console
path the scenario did not expect fails loudly instead of quietly doing
nothing. Both are checked against the `Engine` Protocol by mypy.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.domain.models import AccountSpec, InstanceInfo, SessionInfo, TimelineEntry
from app.engine.api import WARM_UP_SECONDS, DoctorCheck, EngineError, OutboxItem


class StandInEngine:
    """No sessions, no instances, and every operation refused (see module docstring)."""

    provider_url = ""
    central_url = ""
    sandbox_url = ""

    def _refused(self, what: str) -> EngineError:
        return EngineError(f"the benchmark's {type(self).__name__} cannot {what}")

    async def list_sessions(self) -> list[SessionInfo]:
        return []

    async def list_instances(self) -> list[InstanceInfo]:
        return []

    async def add_accounts(
        self, specs: Sequence[AccountSpec], *, start: bool = True
    ) -> list[SessionInfo]:
        raise self._refused("add accounts")

    async def start_session(self, session_id: str) -> None:
        raise self._refused("start a session")

    async def stop_session(self, session_id: str) -> None:
        raise self._refused("stop a session")

    async def restart_session(self, session_id: str) -> None:
        raise self._refused("restart a session")

    async def logout_session(self, session_id: str) -> None:
        raise self._refused("log a session out")

    async def regenerate_qr(self, session_id: str) -> None:
        raise self._refused("regenerate a QR")

    async def request_pairing_code(self, session_id: str, phone: str) -> None:
        raise self._refused("give a pairing code")

    async def open_window(self, session_id: str) -> None:
        raise self._refused("open a window")

    async def warm_up(self, pages: int, *, seconds: float = WARM_UP_SECONDS) -> None:
        """Nothing to warm up: a stand-in has no instances and no pool of login pages
        (the replaced design opens a browser per account), and a warm-up is only an
        optimisation, so it is accepted rather than refused."""

    async def set_proxy(self, session_id: str, proxy: str) -> SessionInfo:
        raise self._refused("set a proxy")

    async def remove_account(self, session_id: str) -> None:
        raise self._refused("remove an account")

    async def restart_instance(self, instance_id: str) -> None:
        raise self._refused("restart an instance")

    async def add_instance(self) -> InstanceInfo:
        raise self._refused("add an instance")

    async def session_timeline(self, session_id: str) -> list[TimelineEntry]:
        return []

    async def list_outbox(self, state: str = "") -> list[OutboxItem]:
        return []

    async def retry_outbox(self, event_ids: Sequence[str] = ()) -> int:
        return 0

    async def instance_log(self, instance_id: str, lines: int = 200) -> list[str]:
        return []

    async def doctor(self) -> list[DoctorCheck]:
        return []
