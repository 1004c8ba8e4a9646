"""Event fan-out to subscribers, each with a bounded queue.

A subscriber that falls behind must not grow the engine's memory without
limit, nor slow anyone else: when its queue is full the oldest event is
dropped (the newest say most about the present; `list_sessions()` gives the
whole picture again) and `dropped` counts what it missed.
"""

from __future__ import annotations

import asyncio
from collections import deque

from app.domain.events import EngineEvent

__all__ = ["Fanout", "Subscription"]

DEFAULT_QUEUE = 10_000


class Subscription:
    """An async iterator of events; ends when the engine closes or on `aclose()`."""

    def __init__(self, owner: Fanout, maxsize: int) -> None:
        self._owner = owner
        self._items: deque[EngineEvent] = deque(maxlen=maxsize)
        self._wakeup = asyncio.Event()
        self._closed = False
        self.dropped = 0

    def offer(self, event: EngineEvent) -> None:
        if self._closed:
            return
        if len(self._items) == self._items.maxlen:
            self.dropped += 1
        self._items.append(event)
        self._wakeup.set()

    def close(self) -> None:
        self._closed = True
        self._wakeup.set()

    async def aclose(self) -> None:
        self.close()
        self._owner.discard(self)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> EngineEvent:
        while not self._items:
            if self._closed:
                self._owner.discard(self)
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()
        return self._items.popleft()


class Fanout:
    def __init__(self, *, queue_size: int = DEFAULT_QUEUE) -> None:
        self._queue_size = queue_size
        self._subscribers: set[Subscription] = set()
        self._closed = False

    def subscribe(self) -> Subscription:
        sub = Subscription(self, self._queue_size)
        if self._closed:
            sub.close()
        else:
            self._subscribers.add(sub)
        return sub

    def discard(self, sub: Subscription) -> None:
        self._subscribers.discard(sub)

    def publish(self, event: EngineEvent) -> None:
        for sub in list(self._subscribers):
            sub.offer(event)

    def close(self) -> None:
        self._closed = True
        for sub in list(self._subscribers):
            sub.close()
        self._subscribers.clear()
