"""Helpers of the engine tests: the fake instance launcher and polling (not a test module)."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from app.engine.supervisor.process import LaunchSpec

FAKE_INSTANCE = Path(__file__).with_name("fake_instance.py")


@dataclass
class FakeLauncher:
    """Launches `fake_instance.py`; `env_for[index]` adds knobs for one slot."""

    folder: Path
    env_for: dict[int, dict[str, str]] = field(default_factory=dict)
    launched: list[int] = field(default_factory=list)

    def spec(self, *, index: int, token: str) -> LaunchSpec:
        self.launched.append(index)
        env = {"PAIRDESK_INSTANCE_TOKEN": token, "FAKE_DIR": str(self.folder)}
        env.update(self.env_for.get(index, {}))
        return LaunchSpec(argv=[sys.executable, str(FAKE_INSTANCE), "--index", str(index)], env=env)


def running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def grandchildren(folder: Path) -> list[int]:
    """Pids of every fake 'Chromium' any fake instance in `folder` ever started."""
    return [int(p.read_text()) for p in folder.glob("child-*.pid")]


async def eventually(check: Callable[[], bool], *, timeout: float = 60.0, what: str = "") -> None:
    """Poll until `check()` holds; the timeout only guards against hangs."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.05)
