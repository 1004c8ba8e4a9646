"""`freeze_startup_heap`: what is alive is frozen, what is garbage is collected first."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from app.heap import freeze_startup_heap


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # the test process's heap goes back as it was


def test_live_objects_are_frozen_and_cyclic_garbage_is_not(unfrozen: None) -> None:
    kept = _Node()
    garbage = _Node()
    garbage.other = _Node()
    garbage.other.other = garbage  # a cycle: only the collector can free it
    dead = weakref.ref(garbage)
    del garbage
    frozen = freeze_startup_heap()
    assert dead() is None  # collected before the freeze, not kept for ever
    assert frozen > 0 and gc.get_freeze_count() > 0  # (frozen objects still die by refcount)
    assert not any(obj is kept for obj in gc.get_objects())  # out of every generation
    assert kept.other is None
