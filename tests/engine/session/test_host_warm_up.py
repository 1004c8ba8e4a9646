"""`SessionHost.warm_up`: the pool's size for a while, then the `warm_pool` setting again.

No browser: the launcher is a stand-in and the pool's pages are scripted (see
`test_warm_pool_resize.py`); the real pages are in `test_warm_up_e2e.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from app.engine.session.host import SessionHost
from app.engine.wire import MAX_WARM_UP_PAGES
from tests.engine.engine_support import eventually
from tests.engine.session.test_warm_pool_resize import _Factory
from tests.engine.session_support import make_settings


class _Browser:
    def on(self, event: str, handler: Callable[..., Any]) -> None:
        pass

    async def close(self) -> None:
        pass


class _Launcher:
    async def start(self) -> None:
        pass

    async def launch(self) -> _Browser:
        return _Browser()

    async def aclose(self) -> None:
        pass


@asynccontextmanager
async def _host(tmp_path: Path, **settings: Any) -> AsyncIterator[tuple[SessionHost, _Factory]]:
    factory = _Factory()
    host = SessionHost(
        settings=make_settings(tmp_path, **settings),
        instance_id="test-0",
        provider_url="http://provider.test/",
        emit=lambda event: None,
        launcher=_Launcher(),  # type: ignore[arg-type]
    )
    host._pool_slot = factory  # type: ignore[method-assign]
    await host.start()
    try:
        yield host, factory
    finally:
        await host.aclose()
    assert factory.open() == [], "closing the host closes every pooled page"


async def test_a_warm_up_grows_the_pool_and_ends_by_itself(tmp_path: Path) -> None:
    async with _host(tmp_path, warm_pool=1) as (host, factory):
        assert await host.warm_up(4, seconds=0.05) == 4
        assert host.warm_status()[1] == 4
        await eventually(lambda: host.warm_status()[1] == 1, timeout=10, what="the revert")
        await eventually(lambda: len(factory.open()) == 1, timeout=10, what="surplus closed")
        assert host.warm_status() == (1, 1)


async def test_the_pool_keeps_its_setting_at_least_and_the_limit_at_most(tmp_path: Path) -> None:
    async with _host(tmp_path, warm_pool=2) as (host, _):
        assert await host.warm_up(0) == 2
        assert await host.warm_up(1) == 2
        assert await host.warm_up(100) == MAX_WARM_UP_PAGES
        assert host.warm_status()[1] == MAX_WARM_UP_PAGES
        assert await host.warm_up(0) == 2, "pages=0 ends the warm-up now"
        assert host.warm_status()[1] == 2
    async with _host(tmp_path / "big", warm_pool=MAX_WARM_UP_PAGES + 2) as (host, _):
        assert await host.warm_up(3) == MAX_WARM_UP_PAGES + 2, "a higher setting wins"


async def test_a_newer_warm_up_replaces_the_timer_of_the_one_before(tmp_path: Path) -> None:
    async with _host(tmp_path, warm_pool=1) as (host, _):
        await host.warm_up(5, seconds=0.05)
        first = host._warm_timer
        await host.warm_up(3, seconds=3600)
        assert first is not None and host._warm_timer is not first
        with contextlib.suppress(asyncio.CancelledError):
            await first
        assert first.cancelled(), "the first warm-up's end no longer applies"
        await host.pool.wait_ready(3, timeout=10)  # type: ignore[union-attr]
        assert host.warm_status() == (3, 3)
        await host.warm_up(0)
        assert host.warm_status() == (1, 1)


async def test_with_the_pool_off_a_warm_up_creates_it_and_its_end_empties_it(
    tmp_path: Path,
) -> None:
    async with _host(tmp_path, warm_pool=0) as (host, factory):
        assert host.pool is None and host.warm_status() == (0, 0)
        assert await host.warm_up(0) == 0
        assert host.pool is None, "nothing asked, nothing made"
        assert await host.warm_up(2, seconds=0.05) == 2
        await eventually(lambda: host.warm_status() == (0, 0), timeout=10, what="the revert")
        await eventually(lambda: factory.open() == [], timeout=10, what="pages closed")


async def test_profile_mode_has_no_pool_to_warm_up(tmp_path: Path) -> None:
    async with _host(tmp_path, isolation="profile", warm_pool=2) as (host, factory):
        assert await host.warm_up(4) == 0
        assert host.pool is None and host.warm_status() == (0, 0)
        assert factory.made == []


async def test_closing_the_host_mid_warm_up_leaves_no_timer(tmp_path: Path) -> None:
    async with _host(tmp_path, warm_pool=1) as (host, _):
        await host.warm_up(3, seconds=3600)
        timer = host._warm_timer
        assert timer is not None
    assert timer.done()
