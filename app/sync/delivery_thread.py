"""Webhook delivery on a thread and event loop of its own.

An instance's main loop also drives every page through Playwright. When a
dozen pages start at once, a turn of that loop can take tens of milliseconds,
and a webhook delivered from it waits for several turns: the wake-up after
its commit, its send task, each await of the HTTP exchange. Measured in a
loaded run (two busy loops, docs/BENCHMARKS.md), those turns were most of
the tail of a QR's trip to the central API.

Here the `OutboxDeliverer` and its `CentralClient` live on a loop of their
own, in a thread, where nothing else runs: the recorder's thread hands over
each committed row (`notify`, safe from any thread) and the send starts at
once, waiting only for the interpreter lock, never for a page's traffic.
The deliverer itself is unchanged (order, retries, superseded QRs); every
method of it runs on this thread's loop.

Use `async with DeliveryThread(build_client, build_deliverer) as delivery:`
and pass `delivery.notify` to whatever commits outbox rows. Closing stops
sending (unsent rows stay in the outbox) and closes the client on its loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Collection, Iterable

from sqlalchemy.orm import Session, sessionmaker

from app.domain.outbox import OutboxItem
from app.sync.client import CentralClient
from app.sync.deliverer import OutboxDeliverer
from app.sync.outbox import SqlOutbox

log = logging.getLogger(__name__)

THREAD_NAME = "webhook-delivery"


class DeliveryThreadError(RuntimeError):
    """Webhook delivery could not start (the client or the deliverer failed to build)."""


class DeliveryThread:
    """Runs a deliverer, built on its own thread's loop, until closed.

    `build_client` and `build_deliverer` are called on that thread, so the
    HTTP client's connections belong to the loop that uses them.
    """

    def __init__(
        self,
        build_client: Callable[[], CentralClient],
        build_deliverer: Callable[[CentralClient], OutboxDeliverer],
        *,
        name: str = THREAD_NAME,
    ) -> None:
        self._build_client = build_client
        self._build_deliverer = build_deliverer
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._ready = threading.Event()  # set once delivering, or once the thread failed
        self._failure: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._deliverer: OutboxDeliverer | None = None

    @property
    def running(self) -> bool:
        return self._deliverer is not None and self._thread.is_alive()

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start the thread and wait until its deliverer runs; `DeliveryThreadError` if not."""
        self._thread.start()
        await asyncio.to_thread(self._ready.wait)
        if self._deliverer is None:
            await asyncio.to_thread(self._thread.join)
            raise DeliveryThreadError("webhook delivery could not start") from self._failure

    async def aclose(self) -> None:
        """Stop delivering and wait for the thread; unsent rows stay in the outbox."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # its loop already ended
                loop.call_soon_threadsafe(stop.set)
        if self._thread.is_alive():
            await asyncio.to_thread(self._thread.join)

    async def __aenter__(self) -> DeliveryThread:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------ hand-over

    def notify(self, items: Iterable[OutboxItem] = ()) -> None:
        """`OutboxDeliverer.notify`, from any thread: rows were committed.

        After `aclose` (or a failed start) it does nothing: the rows are in the
        outbox, and the next start delivers them."""
        loop, deliverer = self._loop, self._deliverer
        if loop is None or deliverer is None:
            return
        with contextlib.suppress(RuntimeError):  # its loop ended meanwhile
            loop.call_soon_threadsafe(deliverer.notify, tuple(items))

    # ------------------------------------------------------------ the thread

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported by start(); nothing else may see it
            self._failure = exc
            log.exception("webhook delivery stopped by an error")
        finally:
            self._deliverer = None
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        client = self._build_client()
        try:
            async with self._build_deliverer(client) as deliverer:
                self._deliverer = deliverer
                self._ready.set()
                await self._stop.wait()
                self._deliverer = None
        finally:
            await client.aclose()


def webhook_delivery(
    *,
    central_url: str,
    secret: str,
    instance_url: str,
    timeout: float,
    sessions: sessionmaker[Session],
    session_ids: Callable[[], Collection[str] | None],
) -> DeliveryThread:
    """The delivery of an instance (or fleet member): its outbox in `sessions`, the
    sessions it serves from `session_ids` (called on the delivery thread: it must
    be safe there, such as a frozenset built in one step)."""

    def build_client() -> CentralClient:
        return CentralClient(
            central_url=central_url, secret=secret, instance_url=instance_url, timeout=timeout
        )

    def build_deliverer(client: CentralClient) -> OutboxDeliverer:
        return OutboxDeliverer(
            store=SqlOutbox(sessions=sessions), client=client, session_ids=session_ids
        )

    return DeliveryThread(build_client, build_deliverer)
