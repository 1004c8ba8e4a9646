"""`WarmPool.resize`: a warm-up grows the pool, its end (or `pages=0`) shrinks it.

No browser: the pool's slot factory is scripted, each "page" shows a QR at once.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import cast

import pytest

from app.engine.browser.signals import Qr
from app.engine.browser.whatsapp_web import Sink
from app.engine.session.warm_pool import PageSlot, WarmPool
from tests.engine.engine_support import eventually


class _Page:
    def __init__(self) -> None:
        self.idle = False
        self.closed = False
        self.last_qr: Qr | None = None


class _Slot:
    """What the pool reads of a `PageSlot`: its page's QR, and `close()`."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.page = _Page()
        self.closed = False

    async def close(self) -> None:
        self.closed = True


class _Factory:
    def __init__(self) -> None:
        self.made: list[_Slot] = []

    async def __call__(self, sink: Sink) -> PageSlot:
        slot = _Slot(len(self.made))
        self.made.append(slot)
        now = datetime.now(UTC)
        slot.page.last_qr = Qr(
            qr=f"ref{slot.number}",
            method="modules",
            issued_at=now,
            expires_at=now,
            index_in_batch=0,
        )
        sink(slot.page.last_qr)
        return cast(PageSlot, slot)

    def open(self) -> list[_Slot]:
        return [s for s in self.made if not s.closed]


async def _pool(size: int) -> tuple[WarmPool, _Factory]:
    factory = _Factory()
    pool = WarmPool(size=size, make_slot=factory)
    await pool.start()
    return pool, factory


async def test_growing_boots_more_pages_and_shrinking_closes_the_oldest_ready_ones() -> None:
    pool, factory = await _pool(2)
    try:
        await pool.wait_ready(timeout=10)
        await pool.resize(5)
        assert pool.size == 5
        await pool.wait_ready(timeout=10)
        assert pool.ready_count == 5
        await pool.resize(1)
        assert pool.ready_count == 1
        open_ = factory.open()
        assert [s.number for s in open_] == [4], "the newest page stays, its batch lasts longest"
        assert len(factory.made) == 5, "shrinking boots nothing new"
    finally:
        await pool.aclose()
    assert factory.open() == []


async def test_a_page_a_session_took_is_never_closed_by_shrinking() -> None:
    pool, factory = await _pool(3)
    try:
        await pool.wait_ready(timeout=10)
        taken = cast(_Slot, pool.take())
        assert taken is not None
        await pool.wait_ready(timeout=10)  # the filler replaced it
        await pool.resize(0)
        assert pool.ready_count == 0
        assert factory.open() == [taken]
    finally:
        await pool.aclose()
    assert factory.open() == [taken], "the session's page is the session's to close"


async def test_a_pool_started_empty_fills_once_it_is_resized() -> None:
    pool, factory = await _pool(0)
    try:
        assert factory.made == []
        await pool.resize(2)
        await pool.wait_ready(timeout=10)
        assert len(factory.open()) == 2
    finally:
        await pool.aclose()


async def test_a_page_booting_while_the_pool_shrinks_is_closed_once_up() -> None:
    booting, gate = asyncio.Event(), asyncio.Event()
    factory = _Factory()

    async def slow(sink: Sink) -> PageSlot:
        booting.set()
        await gate.wait()
        return await factory(sink)

    pool = WarmPool(size=1, make_slot=slow)
    await pool.start()
    try:
        await asyncio.wait_for(booting.wait(), 10)
        await pool.resize(0)
        gate.set()
        await eventually(lambda: len(factory.made) == 1 and factory.open() == [], what="closed")
        assert pool.ready_count == 0
    finally:
        await pool.aclose()


async def test_a_negative_size_is_refused() -> None:
    pool, _ = await _pool(1)
    try:
        with pytest.raises(ValueError, match="0 or more"):
            await pool.resize(-1)
    finally:
        await pool.aclose()
