"""Spread a warm-up (more pooled login pages while a batch is onboarded) over instances.

Both console engines (`SupervisedEngine` over its own instances, `FleetEngine` over
a fleet's live members) ask each instance they can reach for an equal share,
`ceil(pages / n)`, at once. A warm-up is an optimisation: an instance that is
down or refuses is skipped with a log line and the rest still warm up.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Mapping

from app.engine.errors import EngineError
from app.engine.supervisor.client import InstanceClient, InstanceClientError
from app.engine.wire import MAX_WARM_UP_PAGES

__all__ = ["check_warm_up", "share_of", "warm_up_instances"]

log = logging.getLogger(__name__)


def check_warm_up(pages: int, seconds: float) -> None:
    """Raise `EngineError` for a request no instance could honour."""
    if isinstance(pages, bool) or not isinstance(pages, int) or pages < 0:
        raise EngineError(f"a warm-up is for 0 or more login pages, not {pages!r}")
    if not seconds > 0 or math.isinf(seconds):
        raise EngineError(f"a warm-up lasts a positive number of seconds, not {seconds!r}")


def share_of(pages: int, instances: int) -> int:
    """What each of `instances` keeps so that together they keep at least `pages`,
    within the per-instance limit."""
    return min(math.ceil(pages / instances), MAX_WARM_UP_PAGES) if instances else 0


async def warm_up_instances(
    clients: Mapping[str, InstanceClient], pages: int, seconds: float
) -> None:
    """Ask every instance in `clients` (name -> client) for its share of `pages`."""
    check_warm_up(pages, seconds)
    if not clients:
        log.info("warm-up of %d login page(s) skipped: no instance is running", pages)
        return
    share = share_of(pages, len(clients))

    async def one(name: str, client: InstanceClient) -> None:
        try:
            kept = await client.warm_up(share, seconds)
        except InstanceClientError as exc:
            log.warning("warm-up skipped on %s: %s", name, exc)
            return
        log.info("%s keeps %d login page(s) warm for %.0f s", name, kept, seconds)

    await asyncio.gather(*(one(name, client) for name, client in clients.items()))
