"""Fan-out of one instance's events to its live listeners (`GET /api/events`).

Every event gets a sequence number and is kept in a short replay buffer, so a
listener that reconnects with `Last-Event-ID` (the supervisor after a network
blip) misses nothing that is still buffered. A listener that cannot keep up is
cut off rather than allowed to grow memory without bound: its stream ends and
it reconnects, replaying from its last id.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass
from typing import Any

from app.domain.events import EngineEvent, event_to_dict

REPLAY_EVENTS = 2000
LISTENER_QUEUE = 2000


@dataclass(frozen=True)
class Numbered:
    """One event as sent on the wire: its sequence number and JSON-ready body."""

    seq: int
    type: str
    body: dict[str, Any]


_CLOSED = Numbered(-1, "", {})


class Listener:
    """One subscriber's queue; iterate it to receive events until it is closed."""

    def __init__(self, hub: EventHub, types: Collection[str] | None) -> None:
        self._hub = hub
        self._types = frozenset(types) if types else None
        self._queue: asyncio.Queue[Numbered] = asyncio.Queue(LISTENER_QUEUE)
        self.overflowed = False

    def wants(self, item: Numbered) -> bool:
        return self._types is None or item.type in self._types

    def offer(self, item: Numbered) -> bool:
        """Queue an item; False when the listener is too far behind (then closed)."""
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            self.overflowed = True
            self.close()
            return False
        return True

    def close(self) -> None:
        # Make room for the sentinel so a full queue still ends the stream.
        while self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(_CLOSED)

    async def get(self, timeout: float | None = None) -> Numbered | None:
        """The next event, None on timeout; raises StopAsyncIteration when closed."""
        try:
            async with asyncio.timeout(timeout):
                item = await self._queue.get()
        except TimeoutError:
            return None
        if item is _CLOSED:
            raise StopAsyncIteration
        return item

    def __aiter__(self) -> AsyncIterator[Numbered]:
        return self

    async def __anext__(self) -> Numbered:
        item = await self.get()
        assert item is not None
        return item

    def detach(self) -> None:
        self._hub.detach(self)


class EventHub:
    """Numbers events, keeps the recent ones and hands them to every listener."""

    def __init__(self, *, replay: int = REPLAY_EVENTS) -> None:
        self._seq = 0
        self._recent: deque[Numbered] = deque(maxlen=replay)
        self._listeners: set[Listener] = set()
        self._closed = False

    @property
    def last_seq(self) -> int:
        return self._seq

    @property
    def listener_count(self) -> int:
        return len(self._listeners)

    def publish(self, event: EngineEvent) -> Numbered:
        self._seq += 1
        item = Numbered(self._seq, event.type, event_to_dict(event))
        self._recent.append(item)
        for listener in list(self._listeners):
            if listener.wants(item) and not listener.offer(item):
                self._listeners.discard(listener)
        return item

    def listen(self, *, after: int | None = None, types: Collection[str] | None = None) -> Listener:
        """A new listener; with `after`, buffered events newer than that id come first."""
        listener = Listener(self, types)
        if self._closed:
            listener.close()
            return listener
        if after is not None:
            for item in self._recent:
                if item.seq > after and listener.wants(item):
                    listener.offer(item)
        self._listeners.add(listener)
        return listener

    def detach(self, listener: Listener) -> None:
        self._listeners.discard(listener)

    def close(self) -> None:
        """End every stream (instance shutting down)."""
        self._closed = True
        for listener in list(self._listeners):
            listener.close()
        self._listeners.clear()
