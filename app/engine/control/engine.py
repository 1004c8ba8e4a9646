"""The real `Engine`: the store, placement and the supervised instances behind one API.

Accounts are created in the store, placed by rendezvous hashing over the
live instances (capacity counted as sessions assigned), the assignment is
saved, and only then is the chosen instance told over HTTP; an instance
refuses a session assigned elsewhere, so a session never runs in two places.
Every operation on one session holds that session's lock, so a stop cannot
overtake the start it follows. Sessions move only when their instance is
down: after `failover_after` failed restarts (the supervisor's `on_down`), or
at start when their instance no longer exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from app.config import Settings
from app.domain.events import EngineEvent, InstanceLoad, SessionError, SessionStateChanged, utcnow
from app.domain.ids import InvalidIdentifier, normalize_phone
from app.domain.models import AccountSpec, InstanceInfo, SessionInfo, TimelineEntry
from app.domain.outbox import OutboxItem
from app.domain.proxy import InvalidProxy, parse_proxy
from app.domain.states import RUNNING_STATES, Reason, SessionState
from app.engine import doctor as doctor_checks
from app.engine.control.fanout import Fanout, Subscription
from app.engine.control.live_view import LiveView
from app.engine.control.placement import choose
from app.engine.control.store import EngineStore
from app.engine.control.sync_monitor import sync_monitor
from app.engine.control.warm_up import WarmUp, check_warm_up
from app.engine.errors import EngineError
from app.engine.supervisor.client import InstanceClient, InstanceClientError, InstanceRefused
from app.engine.supervisor.supervisor import Launcher, Supervisor, SupervisorConfig
from app.engine.wire import WARM_UP_SECONDS

__all__ = ["Runtime", "SupervisedEngine"]

log = logging.getLogger(__name__)

OPEN_CONCURRENCY = 8  # parallel "open this session" calls of one bulk add


@dataclass(frozen=True)
class Runtime:
    """What the composition root hands the engine once its services are up."""

    store: EngineStore
    launcher: Launcher
    provider_url: str = ""
    central_url: str = ""


Prepare = Callable[[contextlib.AsyncExitStack], Awaitable[Runtime]]


class SupervisedEngine:
    """`app.engine.api.Engine` over supervised instance processes. See `api.py`."""

    def __init__(
        self,
        *,
        settings: Settings,
        prepare: Prepare,
        supervisor_config: SupervisorConfig,
        queue_size: int = 10_000,
    ) -> None:
        self._settings = settings
        self._prepare = prepare
        self._config = supervisor_config
        self._fanout = Fanout(queue_size=queue_size)
        self._view = LiveView()
        self._locks: dict[str, asyncio.Lock] = {}
        self._alive: dict[str, bool] = {}
        self._stack = contextlib.AsyncExitStack()
        self._store: EngineStore | None = None
        self._supervisor: Supervisor | None = None
        self._warm_up = WarmUp(self._running_clients)
        self.runtime: Runtime | None = None

    # ------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        if self._supervisor is not None:
            return
        try:
            runtime = await self._prepare(self._stack)
            self.runtime = runtime
            self._store = runtime.store
            self._view.seed(await runtime.store.list_accounts())
            self._supervisor = Supervisor(
                config=self._config,
                launcher=runtime.launcher,
                on_event=self._on_instance_event,
                on_ready=self._on_instance_ready,
                on_down=self._on_instance_down,
            )
            await self._supervisor.start()
            await self._adopt_orphans()
            await self._start_reconciler()
            await self._stack.enter_async_context(
                sync_monitor(
                    read_metrics=runtime.store.delivery_metrics,
                    publish=self._fanout.publish,
                    enabled=bool(runtime.central_url),
                )
            )
        except BaseException:
            await self.aclose()
            raise

    async def _start_reconciler(self) -> None:
        # Pull `accounts/active` now and every `pull_interval`
        # seconds, publishing a `ReconcileReport` (reported, never acted on).
        # Only against a configured platform: the sandbox's embedded API forgets
        # its accounts on every start, so comparing with it would only mislead.
        from app.sync.reconcile import reconciling

        assert self._store is not None
        await self._stack.enter_async_context(
            reconciling(
                self._settings,
                central_url=self._settings.central_url,
                list_accounts=self._store.list_accounts,
                on_report=self._fanout.publish,
            )
        )

    async def aclose(self) -> None:
        if self._supervisor is not None:
            await self._supervisor.aclose()
        self._fanout.close()
        await self._stack.aclose()

    def subscribe(self) -> Subscription:
        return self._fanout.subscribe()

    @property
    def provider_url(self) -> str:
        return self.runtime.provider_url if self.runtime is not None else ""

    @property
    def central_url(self) -> str:
        return self.runtime.central_url if self.runtime is not None else ""

    @property
    def sandbox_url(self) -> str:
        if self.runtime is None or not self._settings.sandbox_mode:
            return ""
        return self.runtime.provider_url

    # --------------------------------------------------------------- accounts

    async def add_accounts(
        self, specs: Sequence[AccountSpec], *, start: bool = True
    ) -> list[SessionInfo]:
        if not specs:
            return []
        sup, store = self._running()
        capacities = sup.live_capacities()
        if not capacities:
            problems = "; ".join(
                f"{iid} {sup.last_error(iid) or 'is starting'}" for iid in sup.known_ids()
            )
            raise EngineError(
                f"no instance is running ({problems}); the supervisor keeps retrying, "
                "see the instance log in diagnostics for the cause"
            )
        loads = self._view.loads()
        free = sum(max(0, cap - loads.get(iid, 0)) for iid, cap in capacities.items())
        if free < len(specs):
            raise EngineError(
                f"no room for {len(specs)} new account(s): {len(capacities)} live instance(s) "
                f"have {free} free place(s) (max_sessions={self._config.capacity} each); "
                "add an instance or raise max_sessions"
            )
        created = await store.create_accounts(specs)
        self._view.seed(created)
        plan: dict[str, str | None] = {}
        loads = self._view.loads()  # no await between here and assign(): placement is atomic
        for info in created:
            iid = choose(info.session_id, sup.live_capacities(), loads)
            plan[info.session_id] = iid
            if iid is not None:
                loads[iid] = loads.get(iid, 0) + 1
            self._view.assign(info.session_id, iid)
        await store.assign(plan)
        if not start:
            return [self._view.get(info.session_id) or info for info in created]
        gate = asyncio.Semaphore(OPEN_CONCURRENCY)

        async def one(info: SessionInfo) -> None:
            async with gate, self._lock(info.session_id):
                await self._start_on(info, plan[info.session_id], strict=False)

        await asyncio.gather(*(one(info) for info in created))
        return [self._view.get(info.session_id) or info for info in created]

    async def remove_account(self, session_id: str) -> None:
        _, store = self._running()
        async with self._lock(session_id):
            info = await self._known(session_id)
            client = self._client_of(info, required=False)
            if client is not None:
                try:
                    await client.logout_session(session_id)
                except InstanceRefused as exc:
                    if exc.status_code != 404:  # 404: the instance never had it; fine
                        raise EngineError(str(exc)) from None
                except InstanceClientError as exc:
                    raise EngineError(str(exc)) from None
            elif info.instance_id and info.state in RUNNING_STATES:
                raise EngineError(
                    f"{info.instance_id} is down, so {session_id} cannot be logged out now; "
                    "wait until it is back, then remove the account"
                )
            await store.delete(session_id)
            self._view.remove(session_id)
        self._locks.pop(session_id, None)

    # ------------------------------------------------------------- sessions

    async def start_session(self, session_id: str) -> None:
        async with self._lock(session_id):
            info = await self._known(session_id)
            target = info.instance_id or None
            if self._client_of(info, required=False) is None:
                target = await self._replace(info)
            await self._start_on(info, target, strict=True)

    async def stop_session(self, session_id: str) -> None:
        await self._act(session_id, lambda c: c.stop_session(session_id))

    async def restart_session(self, session_id: str) -> None:
        await self._act(session_id, lambda c: c.restart_session(session_id))

    async def logout_session(self, session_id: str) -> None:
        await self._act(session_id, lambda c: c.logout_session(session_id))

    async def regenerate_qr(self, session_id: str) -> None:
        await self._act(session_id, lambda c: c.regenerate_qr(session_id))

    async def request_pairing_code(self, session_id: str, phone: str) -> None:
        try:
            digits = normalize_phone(phone)
        except InvalidIdentifier as exc:
            raise EngineError(f"{exc}; a pairing code is for one phone number, in E.164") from None
        async with self._lock(session_id):
            info = await self._known(session_id)
            if self._client_of(info, required=False) is None:
                await self._replace(info)  # placed like a start: the code needs a page
                info = self._view.get(session_id) or info
            client = self._client_of(info)
            assert client is not None
            await self._call(client.request_pairing_code(session_id, digits))

    async def open_window(self, session_id: str) -> None:
        await self._act(session_id, lambda c: c.open_window(session_id))

    async def set_proxy(self, session_id: str, proxy: str) -> SessionInfo:
        _, store = self._running()
        try:
            parsed = parse_proxy(proxy) if proxy.strip() else None
        except InvalidProxy as exc:
            raise EngineError(str(exc)) from None
        async with self._lock(session_id):
            await self._known(session_id)
            saved = await store.set_proxy(session_id, parsed)
            return self._view.set_proxy(session_id, saved.proxy) or saved

    async def list_sessions(self) -> list[SessionInfo]:
        return sorted(self._view.all(), key=lambda i: (i.workspace_id, i.session_id))

    async def session_timeline(self, session_id: str) -> list[TimelineEntry]:
        return await self._running()[1].timeline(session_id)

    # ------------------------------------------------------------- instances

    async def list_instances(self) -> list[InstanceInfo]:
        return self._running()[0].instances()

    async def restart_instance(self, instance_id: str) -> None:
        try:
            await self._running()[0].restart_instance(instance_id)
        except KeyError:
            raise EngineError(f"there is no instance called {instance_id}") from None

    async def add_instance(self) -> InstanceInfo:
        return await self._running()[0].add_instance()

    async def warm_up(self, pages: int, *, seconds: float = WARM_UP_SECONDS) -> None:
        """Each running instance keeps its share of `pages` (see `control/warm_up.py`);
        an instance that is down now gets its share when it is back, with the seconds
        left, and the shares follow restarts, instances added and instances lost."""
        check_warm_up(pages, seconds)
        if self._supervisor is None:
            return  # not started: there is nothing to warm up, and it is only an optimisation
        await self._warm_up.ask(pages, seconds)

    async def instance_log(self, instance_id: str, lines: int = 200) -> list[str]:
        sup = self._running()[0]
        if sup.info(instance_id) is None:
            raise EngineError(f"there is no instance called {instance_id}")
        return sup.logs(instance_id)[-lines:] if lines > 0 else []

    # ---------------------------------------------------------- diagnostics

    async def list_outbox(self, state: str = "") -> list[OutboxItem]:
        if state not in ("", "pending", "dead"):
            raise EngineError(f"outbox state must be 'pending' or 'dead', not {state!r}")
        return await self._running()[1].outbox(state)

    async def retry_outbox(self, event_ids: Sequence[str] = ()) -> int:
        return await self._running()[1].retry_outbox(event_ids)

    async def doctor(self) -> list[doctor_checks.CheckResult]:
        return await doctor_checks.run_checks(self._settings, launch_browser=False)

    # ------------------------------------------------------- instance hooks

    def _on_instance_event(self, event: EngineEvent) -> None:
        if isinstance(event, InstanceLoad):
            was = self._alive.get(event.instance_id)
            self._alive[event.instance_id] = event.alive
            if was and not event.alive:
                self._mark_lost(event.instance_id)
        else:
            self._view.apply(event)
        self._fanout.publish(event)

    async def _on_instance_ready(self, instance_id: str, client: InstanceClient) -> None:
        rows = await client.list_sessions()
        for before, after in self._view.apply_snapshot(instance_id, rows, utcnow()):
            self._fanout.publish(
                SessionStateChanged(
                    session_id=after.session_id,
                    workspace_id=after.workspace_id,
                    state=after.state,
                    previous=before.state if before is not None else None,
                    reason=after.reason,
                    phone_number=after.phone_number,
                    instance_id=instance_id,
                    detail="as reported by the instance after it (re)connected",
                )
            )
        await self._warm_up.follow()  # a new or restarted instance has no warm-up yet

    async def _on_instance_down(self, instance_id: str) -> None:
        """The instance keeps failing: the live instances share the warm-up without it,
        and its sessions move to them."""
        await self._warm_up.follow()
        moved = self._view.on_instance(instance_id)
        log.warning("%s stays down; moving its %d session(s)", instance_id, len(moved))
        for info in moved:
            async with self._lock(info.session_id):
                current = self._view.get(info.session_id)
                if current is None or current.instance_id != instance_id:
                    continue
                target = await self._replace(current, exclude=instance_id, required=False)
                if target is not None and _should_run(current):
                    await self._start_on(current, target, strict=False)

    # ------------------------------------------------------------- internals

    def _running_clients(self) -> dict[str, InstanceClient]:
        sup = self._supervisor
        if sup is None:
            return {}
        return {iid: c for iid in sup.known_ids() if (c := sup.client(iid)) is not None}

    def _running(self) -> tuple[Supervisor, EngineStore]:
        if self._supervisor is None or self._store is None:
            raise EngineError("the engine is not running; start it first")
        return self._supervisor, self._store

    def _lock(self, session_id: str) -> asyncio.Lock:
        return self._locks.setdefault(session_id, asyncio.Lock())

    async def _known(self, session_id: str) -> SessionInfo:
        info = self._view.get(session_id) or await self._running()[1].get(session_id)
        if info is None:
            raise EngineError(f"there is no account with session id {session_id}")
        return info

    def _client_of(self, info: SessionInfo, *, required: bool = True) -> InstanceClient | None:
        sup = self._running()[0]
        client = sup.client(info.instance_id) if info.instance_id else None
        if client is None and required:
            where = info.instance_id or "no instance"
            raise EngineError(
                f"{info.session_id} is on {where}, which is not running right now; "
                "it is being restarted, try again in a moment"
            )
        return client

    async def _act(
        self, session_id: str, call: Callable[[InstanceClient], Awaitable[None]]
    ) -> None:
        async with self._lock(session_id):
            info = await self._known(session_id)
            client = self._client_of(info)
            assert client is not None
            await self._call(call(client))

    async def _call(self, call: Awaitable[Any]) -> Any:
        try:
            return await call
        except InstanceClientError as exc:
            raise EngineError(str(exc)) from None

    async def _replace(
        self, info: SessionInfo, *, exclude: str = "", required: bool = True
    ) -> str | None:
        """Place a session whose instance is gone or down; save and return the choice.

        Only for an instance with no process running (failed over, removed, or
        never assigned), so the session cannot be open in two places.
        """
        sup, store = self._running()
        if info.instance_id and info.instance_id != exclude:
            known = sup.info(info.instance_id)
            if known is not None and not sup.failed_over(info.instance_id):
                raise EngineError(
                    f"{info.session_id} is on {info.instance_id}, which is restarting; "
                    "it comes back with it, or try again in a moment"
                )
        skip = [exclude] if exclude else []
        target = choose(info.session_id, sup.live_capacities(), self._view.loads(), exclude=skip)
        if target is None:
            if required:
                raise EngineError(
                    f"no live instance has room for {info.session_id}; add an instance "
                    "or raise max_sessions"
                )
            return None
        self._view.assign(info.session_id, target)
        await store.assign({info.session_id: target})
        return target

    async def _start_on(self, info: SessionInfo, instance_id: str | None, *, strict: bool) -> None:
        sup = self._running()[0]
        client = sup.client(instance_id) if instance_id else None
        try:
            if instance_id is None:
                raise EngineError(
                    "no live instance had room for it; add an instance or raise "
                    "max_sessions, then start it"
                )
            if client is None:
                raise EngineError(f"{instance_id} is not running; start it again once it is back")
            await self._call(client.start_session(info.session_id))
        except EngineError as exc:
            if strict:
                raise
            message = f"could not start {info.session_id}: {exc}"
            self._fanout.publish(
                SessionError(
                    session_id=info.session_id,
                    workspace_id=info.workspace_id,
                    error=Reason.ERROR.value,
                    message=message,
                    instance_id=instance_id or "",
                )
            )
            await self._record_refused_start(info.session_id, message)

    async def _record_refused_start(self, session_id: str, message: str) -> None:
        """A session the engine meant to start stays stopped: say why, on its row and
        in its timeline, so nobody finds it `stopped` with no reason."""
        current = self._view.get(session_id)
        if current is None or current.state is not SessionState.STOPPED:
            return  # it runs somewhere after all: its instance reports the truth
        now = utcnow()
        try:
            await self._running()[1].record_stop(session_id, Reason.ERROR, message, at=now)
        except EngineError as exc:
            log.warning("could not record why %s did not start: %s", session_id, exc)
        after = self._view.set_state(session_id, SessionState.STOPPED, Reason.ERROR, now)
        if after is None:
            return
        self._fanout.publish(
            SessionStateChanged(
                session_id=session_id,
                workspace_id=after.workspace_id,
                state=SessionState.STOPPED,
                previous=current.state,
                reason=Reason.ERROR,
                detail=message,
                phone_number=after.phone_number,
                instance_id=after.instance_id,
                at=now,
            )
        )

    def _mark_lost(self, instance_id: str) -> None:
        """The instance's process ended: its running sessions are disconnected for now."""
        sup = self._running()[0]
        detail = f"{instance_id} {sup.last_error(instance_id)}; restarting it"
        now = utcnow()
        for info in self._view.on_instance(instance_id):
            if info.state not in RUNNING_STATES or info.state is SessionState.DISCONNECTED:
                continue
            after = self._view.set_state(
                info.session_id, SessionState.DISCONNECTED, Reason.INSTANCE_RESTART, now
            )
            if after is None:
                continue
            self._fanout.publish(
                SessionStateChanged(
                    session_id=info.session_id,
                    workspace_id=info.workspace_id,
                    state=SessionState.DISCONNECTED,
                    previous=info.state,
                    reason=Reason.INSTANCE_RESTART,
                    detail=detail,
                    instance_id=instance_id,
                    at=now,
                )
            )

    async def _adopt_orphans(self) -> None:
        """Sessions assigned to an instance that no longer exists move to live ones."""
        sup = self._running()[0]
        known = set(sup.known_ids())
        for info in self._view.all():
            if not info.instance_id or info.instance_id in known:
                continue
            async with self._lock(info.session_id):
                target = await self._replace(info, required=False)
                if target is not None and _should_run(info):
                    await self._start_on(info, target, strict=False)


def _should_run(info: SessionInfo) -> bool:
    """Was the session meant to be running (not stopped, logged out or failed by intent)?"""
    if info.state is SessionState.STOPPED:
        return info.reason is Reason.INSTANCE_RESTART
    return info.state in RUNNING_STATES
