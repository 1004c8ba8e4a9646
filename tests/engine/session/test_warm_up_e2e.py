"""A warm-up with real Chromium against the sandbox: the pool boots the pages asked
for, each showing a QR, and closes them again when the warm-up ends."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.engine.session_support import World, world

pytestmark = pytest.mark.e2e


async def _unpaired(w: World) -> int:
    """Login pages the sandbox has open and showing a QR."""
    stats = await w.phone.stats()
    return int(stats["pages"]["by_state"].get("UNPAIRED", 0))


async def _until_unpaired(w: World, count: int, *, timeout: float = 60.0) -> None:
    """The sandbox sees a page close once its socket does: wait for it (the timeout only
    guards against a hang)."""
    async with asyncio.timeout(timeout):
        while await _unpaired(w) != count:
            await asyncio.sleep(0.1)


async def test_a_warm_up_boots_login_pages_and_its_end_closes_them(tmp_path: Path) -> None:
    # Real time: no QR batch runs out (and no page is replaced) while the test looks.
    async with world(tmp_path, time_scale=1.0) as w:
        host = await w.host(warm_pool=1, time_scale=1.0)
        assert host.pool is not None
        await host.pool.wait_ready(timeout=90)

        assert await host.warm_up(4, seconds=600) == 4
        await host.pool.wait_ready(timeout=120)
        assert host.warm_status() == (4, 4)
        await _until_unpaired(w, 4)

        assert await host.warm_up(0) == 1
        assert host.warm_status() == (1, 1)
        await _until_unpaired(w, 1)
