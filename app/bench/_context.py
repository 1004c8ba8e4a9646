"""The bench's world: options of this run, its scratch folder, and the local
stand-ins (login simulator, reference central API) each scenario starts for
itself, so one scenario's leftovers never skew the next one's figures.
"""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.bench._harness import ProcessTracker, Skip

if TYPE_CHECKING:
    from app.config import Settings
    from app.sandbox.central import CentralServer
    from app.sandbox.central_state import CentralState


REAL_RESTORE = 130
"""Real-weight sessions restore brings back: the capacity target's 120 and a margin."""


@dataclass(frozen=True)
class BenchOptions:
    """What the command line asked for."""

    quick: bool = False
    sessions: int = 0  # capacity's cap and restore's N (memory's top step at most 50); 0: defaults
    boot_delay: float = 0.0
    page_weights: tuple[str, ...] = ("light",)
    """--page-weight: the weights the weighted scenarios (WEIGHTED in _runner) run at."""
    page_weight: str = "light"
    """The weight of the scenario being run: every sandbox it starts serves it."""
    load: int = 0
    """--load N: busy loops competing for the cores in the loaded runs (0: quiet only)."""
    scenarios: tuple[str, ...] = ()  # the scenarios of this run, in order
    scratch: Path = Path("bench-scratch")
    base_settings: Settings | None = None

    def restore_count(self) -> int:
        """Sessions restore brings back: the target's 300 at light weight, fewer when
        --sessions says so. At real weight at most REAL_RESTORE: capacity holds real pages
        until the memory floor (200 on 24 GiB once its heartbeats kept up), and bringing
        that many back at once left no room for the restore's own reopenings."""
        if self.quick:
            return 2
        wanted = min(300, self.sessions or 300)
        return min(wanted, REAL_RESTORE) if self.page_weight == "real" else wanted

    def count(self, full: int, quick: int) -> int:
        """How many sessions a scenario uses: --sessions wins, then quick/full defaults."""
        if self.sessions:
            return self.sessions
        return quick if self.quick else full


@dataclass
class BenchContext:
    options: BenchOptions
    tracker: ProcessTracker
    chromium_path: str | None
    secret: str = dataclasses.field(default_factory=lambda: secrets.token_hex(16))
    handoff: dict[str, Any] = dataclasses.field(default_factory=dict)
    """What one scenario leaves for a later one (capacity's connected store for restore)."""
    _kept: dict[str, Any] = dataclasses.field(default_factory=dict)

    def kept_sandbox(self, key: str) -> str:
        """A login simulator that outlives the scenario (its linked accounts are needed by a
        later one); the same one for the same key and page weight; stopped by `close()`.
        Yields its URL."""
        key = f"{key}/{self.options.page_weight}"
        if key not in self._kept:
            from app.sandbox import SandboxOptions, SandboxServer

            server = SandboxServer(
                SandboxOptions(
                    boot_delay=self.options.boot_delay, page_weight=self.options.page_weight
                )
            )
            server.start()
            self._kept[key] = server
        return str(self._kept[key].url)

    def handoff_key(self, name: str) -> str:
        """A handoff between scenarios of the same page weight (capacity -> restore)."""
        return f"{name}/{self.options.page_weight}"

    def close(self) -> None:
        """Stop what was kept across scenarios."""
        while self._kept:
            _, server = self._kept.popitem()
            server.stop()

    def folder(self, name: str) -> Path:
        """A scratch folder of its own for this run (a weight or load variant gets another)."""
        variant = "" if self.options.page_weight == "light" else f"-{self.options.page_weight}"
        variant += f"-load{self.options.load}" if self.options.load else ""
        path = self.options.scratch / (name + variant)
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path

    @contextlib.contextmanager
    def sandbox(self, *, time_scale: float = 1.0) -> Iterator[str]:
        """A login simulator on a free loopback port (own thread); yields its URL."""
        from app.sandbox import SandboxOptions, SandboxServer

        server = SandboxServer(
            SandboxOptions(
                time_scale=time_scale,
                boot_delay=self.options.boot_delay,
                page_weight=self.options.page_weight,
            )
        )
        server.start()
        try:
            yield server.url
        finally:
            server.stop()

    @contextlib.contextmanager
    def central(self) -> Iterator[tuple[str, CentralState]]:
        """The reference central API verifying this run's secret; yields (URL, state)."""
        try:
            from app.sandbox.central import CentralServer
        except ImportError as exc:
            raise Skip(f"the reference central API is not available: {exc}") from None
        server: CentralServer = CentralServer(self.secret)
        server.start()
        try:
            yield server.url, server.state
        finally:
            server.stop()

    def engine_settings(
        self,
        name: str,
        *,
        provider_url: str,
        central_url: str = "",
        instances: int = 1,
        isolation: str = "context",
        warm_pool: int = 0,
        max_sessions: int = 50,
        time_scale: float = 1.0,
        heartbeat_interval: float = 5.0,
    ) -> Settings:
        """Settings for an engine of this run: own database and sessions folder per scenario."""
        from app.config import Settings

        base = self.options.base_settings or Settings.load(environ={})
        folder = self.folder(name)
        return base.with_overrides(
            provider_url=provider_url,
            central_url=central_url,
            webhook_secret=self.secret,
            webhook_secret_file="",
            database_url=f"sqlite:///{folder / 'pairdesk.db'}",
            data_dir=str(folder),
            sessions_dir=str(folder / "sessions"),
            instances=instances,
            isolation=isolation,
            warm_pool=warm_pool,
            max_sessions=max_sessions,
            time_scale=time_scale,
            sandbox_boot_delay=self.options.boot_delay,
            heartbeat_interval=heartbeat_interval,
            log_level="WARNING",
            # The configured binary only: left empty, the engine picks its own (the
            # headless shell for sessions when one is installed), as a user's would.
            chromium=base.chromium if base else "",
        )
