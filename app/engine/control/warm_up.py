"""Spread a warm-up (more pooled login pages while a batch is onboarded) over instances.

Both console engines (`SupervisedEngine` over its own instances, `FleetEngine` over
a fleet's live members) ask each instance they can reach for an equal share,
`ceil(pages / n)`, at once. A warm-up is an optimisation: an instance that is
down or refuses is skipped with a log line and the rest still warm up.

Each engine keeps its active warm-up in a `WarmUp`, so it follows its instances:
when the instances running are no longer the ones it was last spread over (one
restarted and forgot it, came back after being down, was added, or is gone), the
engine calls `follow()` and every running instance is asked again for its share
of the same pages, for the seconds that remain. `warm_up(0)` or the end time ends
it; nothing is asked again after that.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from time import monotonic

from app.engine.errors import EngineError
from app.engine.supervisor.client import InstanceClient, InstanceClientError
from app.engine.wire import MAX_WARM_UP_PAGES

__all__ = ["WarmUp", "WarmUpPlan", "check_warm_up", "share_of", "warm_up_instances"]

log = logging.getLogger(__name__)

Clients = Mapping[str, InstanceClient]


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


async def warm_up_instances(clients: Clients, pages: int, seconds: float) -> None:
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


@dataclass(frozen=True)
class WarmUpPlan:
    """The active warm-up: `pages` over all running instances until `until`
    (`time.monotonic()`)."""

    pages: int
    until: float

    def remaining(self, now: float) -> float:
        return max(0.0, self.until - now)


class WarmUp:
    """A console engine's warm-up, remembered so it follows the instances.

    `running()` gives the clients of the instances running now (name -> client; a
    restarted instance has a new client). `ask` spreads a warm-up over them and
    remembers it (`pages=0` ends it); `follow` spreads the remembered one again when
    the running instances are not those it was last spread over. Both hold one lock,
    so a late re-ask never lands after a newer request."""

    def __init__(self, running: Callable[[], Clients]) -> None:
        self._running = running
        self._lock = asyncio.Lock()
        self._spread_over: dict[str, InstanceClient] = {}
        self.plan: WarmUpPlan | None = None

    async def ask(self, pages: int, seconds: float) -> None:
        check_warm_up(pages, seconds)
        async with self._lock:
            self.plan = WarmUpPlan(pages, monotonic() + seconds) if pages else None
            await self._spread(dict(self._running()), pages, seconds)

    async def follow(self) -> None:
        """Ask the running instances again for their share, with the seconds that remain,
        if a warm-up is active and they changed. Never raises: it is an optimisation."""
        async with self._lock:
            plan = self.plan
            if plan is None:
                return
            seconds = plan.remaining(monotonic())
            if seconds <= 0:
                self.plan = None
                return
            running = dict(self._running())
            if running == self._spread_over:  # the same names and clients (by identity)
                return
            log.info(
                "instances changed during a warm-up: %d login page(s) over %s for %.0f s more",
                plan.pages,
                ", ".join(sorted(running)) or "no instance",
                seconds,
            )
            try:
                await self._spread(running, plan.pages, seconds)
            except Exception:
                log.exception("could not ask the instances for the warm-up again")

    async def _spread(self, clients: dict[str, InstanceClient], pages: int, seconds: float) -> None:
        self._spread_over = clients
        await warm_up_instances(clients, pages, seconds)
