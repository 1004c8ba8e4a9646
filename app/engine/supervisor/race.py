"""Small structured-concurrency helpers: every task started here is cancelled and awaited."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Coroutine, Iterable, Mapping
from typing import Any

__all__ = ["cancel_and_wait", "race"]


async def race(
    contenders: Mapping[str, Awaitable[Any]],
    *,
    background: Iterable[Coroutine[Any, Any, Any]] = (),
) -> str:
    """Run the contenders (and the background jobs) until one contender finishes.

    Returns that contender's name. Everything else is cancelled and awaited
    before returning, also when `race` itself is cancelled. An exception in a
    contender or a background job propagates.
    """
    tasks: dict[asyncio.Task[Any], str] = {
        asyncio.ensure_future(aw): name for name, aw in contenders.items()
    }
    extras = [asyncio.ensure_future(coro) for coro in background]
    try:
        while True:
            watched = set(tasks) | set(extras)
            done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
            winners = [tasks[t] for t in done if t in tasks]
            if winners:
                return winners[0]
            extras = [t for t in extras if t not in done]  # a background job ended quietly
    finally:
        await cancel_and_wait([*tasks, *extras])


async def cancel_and_wait(tasks: Iterable[asyncio.Future[Any]]) -> None:
    pending = [t for t in tasks if not t.done()]
    for task in pending:
        task.cancel()
    for task in pending:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
