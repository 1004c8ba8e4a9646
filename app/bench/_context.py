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
from typing import TYPE_CHECKING

from app.bench._harness import ProcessTracker, Skip

if TYPE_CHECKING:
    from app.config import Settings
    from app.sandbox.central import CentralServer
    from app.sandbox.central_state import CentralState


@dataclass(frozen=True)
class BenchOptions:
    """What the command line asked for."""

    quick: bool = False
    sessions: int = 0  # 0: the scenario's own default for quick / full
    boot_delay: float = 0.0
    scratch: Path = Path("bench-scratch")
    base_settings: Settings | None = None

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

    def folder(self, name: str) -> Path:
        path = self.options.scratch / name
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path

    @contextlib.contextmanager
    def sandbox(self, *, time_scale: float = 1.0) -> Iterator[str]:
        """A login simulator on a free loopback port (own thread); yields its URL."""
        from app.sandbox import SandboxOptions, SandboxServer

        server = SandboxServer(
            SandboxOptions(time_scale=time_scale, boot_delay=self.options.boot_delay)
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
            chromium=self.chromium_path or (base.chromium if base else ""),
        )
