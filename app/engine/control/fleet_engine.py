"""`FleetEngine`: the console's `Engine` over a fleet (docs/FLEET.md, "Consoles").

A console attached to a fleet (`pairdesk gui --fleet URL`, `pairdesk serve
--fleet URL`, or `fleet_database_url` in its settings) starts no instance and
owns nothing: accounts, leases and timelines are read from the fleet
database; operations on a session go to the API of the member holding its
lease; live events come from every live member's event stream (re-read as
members come and go). Several consoles attach at once and see the same
thing; closing one changes nothing for any session.

A member that stops renewing sends no event: its page is closed at its
lease deadline and nobody writes that down until another member claims the
session. So the console also polls the leases (`app/fleet/lease_view.py`
decides what such a session is) and publishes a state change of its own when a
session's lease lapses: `disconnected` with `awaiting_member` or `no_member`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Sequence
from datetime import datetime

from sqlalchemy import Engine as SqlEngine

from app.config import Settings
from app.domain.events import EngineEvent, SessionStateChanged
from app.domain.models import AccountSpec, InstanceInfo, SessionInfo, TimelineEntry
from app.domain.outbox import OutboxItem
from app.domain.proxy import InvalidProxy, parse_proxy
from app.domain.states import Reason, SessionState
from app.engine.control.fanout import Fanout
from app.engine.control.store import EngineStore
from app.engine.control.warm_up import WarmUp
from app.engine.doctor import CheckResult, run_checks
from app.engine.errors import EngineError
from app.engine.supervisor.client import InstanceClient, InstanceClientError
from app.engine.wire import WARM_UP_SECONDS, Health
from app.fleet.lease_view import fleet_state
from app.fleet.leases import LeaseStore, MemberInfo
from app.fleet.status import FleetStatus, SessionRow, read_status

log = logging.getLogger(__name__)

MEMBERS_INTERVAL = 2.0
HEALTH_TIMEOUT = 3.0
PLACE_TIMEOUT = 60.0


class FleetEngine:
    """An `Engine` whose sessions run on fleet members it does not own."""

    def __init__(self, settings: Settings) -> None:
        if not settings.fleet_database_url:
            raise EngineError("no fleet: set fleet_database_url or pass --fleet URL")
        self._settings = settings
        self._fanout = Fanout()
        self._leases: LeaseStore | None = None
        self._store: EngineStore | None = None
        self._members: dict[str, MemberInfo] = {}
        self._clients: dict[str, InstanceClient] = {}
        self._streams: dict[str, asyncio.Task[None]] = {}
        # name -> (URL, registration time) its client was made for
        self._incarnations: dict[str, tuple[str, datetime | None]] = {}
        self._watcher: asyncio.Task[None] | None = None
        self._warm_up = WarmUp(self._live_clients)
        self._dispose: list[SqlEngine] = []
        # Sessions whose lapsed lease this console announced: session id -> what it
        # said (state, reason, lease health, lease owner), so each change is said once.
        self._lapsed: dict[str, tuple[SessionState, Reason | None, str, str | None]] = {}

    # ------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        from app.store import StoreError, create_engine_for, session_factory, upgrade

        try:
            db = create_engine_for(self._settings.fleet_database_url)
            await asyncio.to_thread(upgrade, db)
            self._leases = LeaseStore(
                db, ttl=self._settings.lease_ttl, grace=self._settings.lease_grace
            )
        except (StoreError, ValueError) as exc:
            raise EngineError(f"cannot attach to the fleet: {exc}") from None
        self._dispose.append(db)
        self._store = EngineStore(sessions=session_factory(db))
        await self._refresh_members()
        await self._refresh_leases(announce=False)  # what the first list_sessions shows
        self._watcher = asyncio.create_task(self._watch_members(), name="fleet members")

    async def aclose(self) -> None:
        """Detach: the sessions keep running on their members."""
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        for task in self._streams.values():
            task.cancel()
        for task in self._streams.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for client in self._clients.values():
            await client.aclose()
        self._fanout.close()
        for db in self._dispose:
            db.dispose()

    @property
    def provider_url(self) -> str:
        return self._settings.provider_url

    @property
    def central_url(self) -> str:
        return self._settings.central_url

    @property
    def sandbox_url(self) -> str:
        return ""

    def subscribe(self) -> AsyncIterator[EngineEvent]:
        return self._fanout.subscribe()

    # --------------------------------------------------------------- members

    def _need(self) -> tuple[LeaseStore, EngineStore]:
        if self._leases is None or self._store is None:
            raise EngineError("the console is not attached to the fleet yet")
        return self._leases, self._store

    async def _refresh_members(self) -> None:
        leases, _ = self._need()
        members = await asyncio.to_thread(leases.members)
        self._members = {m.name: m for m in members}
        for m in members:
            client = self._clients.get(m.name)
            incarnation = (m.advertise_url.rstrip("/") + "/", m.started_at)
            if client is not None and self._incarnations.get(m.name) != incarnation:
                # Moved, or restarted (under the same URL too, within one poll): a new
                # client, so what follows the members (the warm-up) sees a new member.
                self._streams.pop(m.name).cancel()
                await self._clients.pop(m.name).aclose()
            if m.alive and m.name not in self._clients and m.advertise_url:
                self._clients[m.name] = InstanceClient(
                    base_url=m.advertise_url, token=self._settings.instance_token, name=m.name
                )
                self._incarnations[m.name] = incarnation
                self._streams[m.name] = asyncio.create_task(self._relay(m.name))
        await self._warm_up.follow()  # members came or went: their shares change

    def _live_clients(self) -> dict[str, InstanceClient]:
        return {
            n: c for n, c in self._clients.items() if n in self._members and self._members[n].alive
        }

    async def _watch_members(self) -> None:
        while True:
            await asyncio.sleep(MEMBERS_INTERVAL)
            with contextlib.suppress(Exception):
                await self._refresh_members()
            try:
                await self._refresh_leases()
            except Exception as exc:
                log.info("could not read the fleet's leases: %s", exc)

    async def _unsettled(self) -> FleetStatus:
        """Sessions whose lease is not held by the member the account points at."""
        leases, _ = self._need()
        return await asyncio.to_thread(read_status, leases, unsettled_only=True)

    async def _refresh_leases(self, *, announce: bool = True) -> None:
        """Say `disconnected` for every session whose lease lapsed since the last look.

        Its member cannot say it (it is gone, frozen or cut off) and the next owner
        speaks only once it has claimed it; when it has, the session leaves this list,
        this console says once what it is now (`_announce_settled`), and the new
        owner's own events (starting, connected, ...) take over."""
        status = await self._unsettled()
        now: dict[str, tuple[SessionState, Reason | None, str, str | None]] = {}
        for row in status.sessions:
            if not row.detail or row.lease is None:
                continue  # the stored state stands (not meant to run)
            state = SessionState(row.state)
            reason = Reason(row.reason) if row.reason else None
            said = (state, reason, row.lease.health.value, row.lease.owner)
            now[row.session_id] = said
            if announce and self._lapsed.get(row.session_id) != said:
                self._fanout.publish(_lapse_event(row, state, reason))
        settled = [sid for sid in self._lapsed if sid not in now]
        self._lapsed = now
        if announce and settled:
            await self._announce_settled(settled)

    async def _announce_settled(self, sids: list[str]) -> None:
        """Sessions a member runs again after this console said they lapsed: their state
        now, as their owner reports it. Its own events may have gone by before this
        console opened its stream (a member that just started restores a session in
        seconds), and nothing else would take the `disconnected` back."""
        _, store = self._need()
        stored = [info for sid in sids if (info := await store.get(sid)) is not None]
        live: dict[str, SessionInfo] = {}
        for owner in {info.instance_id for info in stored if info.instance_id}:
            client = self._clients.get(owner)
            if client is None:
                continue
            with contextlib.suppress(InstanceClientError):
                live |= {info.session_id: info for info in await client.list_sessions()}
        for info in stored:
            now = live.get(info.session_id)
            shown = info.overlaid(now, instance_id=info.instance_id) if now else info
            self._fanout.publish(
                SessionStateChanged(
                    session_id=shown.session_id,
                    workspace_id=shown.workspace_id,
                    state=shown.state,
                    previous=SessionState.DISCONNECTED,
                    reason=shown.reason,
                    detail=f"taken over by {shown.instance_id}" if shown.instance_id else "",
                    instance_id=shown.instance_id,
                )
            )

    async def _relay(self, name: str) -> None:
        """One member's event stream into the console's subscriptions, resumed after blips."""
        while True:
            client = self._clients.get(name)
            member = self._members.get(name)
            if client is None or member is None or not member.alive:
                return
            try:
                async for event in client.events():
                    self._fanout.publish(event)
            except InstanceClientError as exc:
                log.info("event stream of %s: %s", name, exc)
            await asyncio.sleep(1.0)

    async def _owner(self, session_id: str, *, wait: float = 0.0) -> InstanceClient:
        leases, _ = self._need()
        end = asyncio.get_running_loop().time() + wait
        while True:
            rows = await asyncio.to_thread(leases.leases)
            owner = next((o for s, o, _, _ in rows if s == session_id), None)
            if owner is not None:
                if owner not in self._clients:
                    await self._refresh_members()
                client = self._clients.get(owner)
                if client is not None:
                    return client
            if asyncio.get_running_loop().time() >= end:
                raise EngineError(
                    f"session {session_id} runs on no live member right now (none has room, "
                    "or its member is down and the lease has not expired yet); try again "
                    "in a moment, or look at `pairdesk fleet status`"
                )
            await asyncio.sleep(0.5)

    async def _call(self, session_id: str, verb: str, *args: str, wait: float = 0.0) -> None:
        client = await self._owner(session_id, wait=wait)
        try:
            await getattr(client, verb)(session_id, *args)
        except InstanceClientError as exc:
            raise EngineError(f"{client.name} could not {verb.replace('_', ' ')}: {exc}") from None

    # ------------------------------------------------------------- sessions

    async def add_accounts(
        self, specs: Sequence[AccountSpec], *, start: bool = True
    ) -> list[SessionInfo]:
        leases, store = self._need()
        created = await store.create_accounts(specs)
        await asyncio.to_thread(leases.ensure_rows)
        if start:
            for info in created:
                await self._call(info.session_id, "start_session", wait=PLACE_TIMEOUT)
        return created

    async def start_session(self, session_id: str) -> None:
        await self._call(session_id, "start_session", wait=PLACE_TIMEOUT)

    async def stop_session(self, session_id: str) -> None:
        await self._call(session_id, "stop_session")

    async def restart_session(self, session_id: str) -> None:
        await self._call(session_id, "restart_session")

    async def logout_session(self, session_id: str) -> None:
        await self._call(session_id, "logout_session")

    async def regenerate_qr(self, session_id: str) -> None:
        await self._call(session_id, "regenerate_qr")

    async def request_pairing_code(self, session_id: str, phone: str) -> None:
        await self._call(session_id, "request_pairing_code", phone)

    async def open_window(self, session_id: str) -> None:
        raise EngineError(
            "a passkey window opens on the screen of the host running the session; in fleet "
            "mode that is a member, not this console: confirm on the member's host"
        )

    async def set_proxy(self, session_id: str, proxy: str) -> SessionInfo:
        _, store = self._need()
        try:
            parsed = parse_proxy(proxy) if proxy else None
        except InvalidProxy as exc:
            raise EngineError(f"that proxy cannot be used: {exc}") from None
        return await store.set_proxy(session_id, parsed)

    async def remove_account(self, session_id: str) -> None:
        _, store = self._need()
        with contextlib.suppress(EngineError):
            await self._call(session_id, "logout_session")
        await store.delete(session_id)

    async def list_sessions(self) -> list[SessionInfo]:
        _, store = self._need()
        rows = {info.session_id: info for info in await store.list_accounts()}

        async def live(name: str, client: InstanceClient) -> list[SessionInfo]:
            try:
                return await client.list_sessions()
            except InstanceClientError:
                return []

        names = [n for n, m in self._members.items() if m.alive and n in self._clients]
        lists = await asyncio.gather(*(live(n, self._clients[n]) for n in names))
        for name, infos in zip(names, lists, strict=True):
            for info in infos:
                if info.session_id in rows:
                    rows[info.session_id] = rows[info.session_id].overlaid(info, instance_id=name)
        status = await self._unsettled()
        for row in status.sessions:
            shown = rows.get(row.session_id)
            if shown is not None and row.lease is not None:
                rows[row.session_id] = _as_fleet_knows(shown, row, status.members)
        return sorted(rows.values(), key=lambda i: (i.workspace_id, i.session_id))

    # ------------------------------------------------------------- instances

    async def list_instances(self) -> list[InstanceInfo]:
        """Every member: host and URL, capacity and leases held (the fleet database),
        load and connected sessions (its `/health`), and lease health: leases held, how
        long ago the oldest was renewed, how many it let expire; a member whose
        heartbeat is older than the TTL is shown down, with when it was last seen."""
        await self._refresh_members()
        members = sorted(self._members.values(), key=lambda m: m.name)

        async def health(m: MemberInfo) -> Health | None:
            client = self._clients.get(m.name)
            if client is None or not m.alive:
                return None
            try:
                return await client.health(timeout=HEALTH_TIMEOUT)
            except InstanceClientError:
                return None

        healths = await asyncio.gather(*(health(m) for m in members))
        out = []
        for index, (m, h) in enumerate(zip(members, healths, strict=True)):
            if not m.alive:
                why = f"no heartbeat from {m.host} since {m.heartbeat_at:%H:%M:%S} UTC"
            elif h is None:
                why = f"holds its leases but its API at {m.advertise_url} does not answer"
            else:
                why = "draining: handing its sessions over" if m.draining else ""
            out.append(
                InstanceInfo(
                    instance_id=m.name,
                    index=index,
                    url=m.advertise_url,
                    pid=m.pid,
                    alive=m.alive and h is not None,
                    capacity=m.capacity,
                    sessions_total=m.sessions,
                    sessions_connected=h.sessions_connected if h else 0,
                    cpu_percent=h.cpu_percent if h else 0.0,
                    memory_bytes=int(h.memory_used_mb * 1024 * 1024) if h else 0,
                    last_error=why,
                    warm_ready=h.warm_ready if h else 0,
                    warm_target=h.warm_target if h else 0,
                    lease_health=lease_health(m),
                )
            )
        return out

    async def warm_up(self, pages: int, *, seconds: float = WARM_UP_SECONDS) -> None:
        """Each live member keeps its share of `pages` (see `control/warm_up.py`); the
        shares follow members coming and going, as this console reads them (every
        `MEMBERS_INTERVAL`). Members are shared: another console's warm-up of the same
        member replaces this one."""
        await self._warm_up.ask(pages, seconds)

    async def restart_instance(self, instance_id: str) -> None:
        raise EngineError(
            f"{instance_id} is a fleet member run by systemd or Kubernetes; restart it there "
            "(systemctl restart pairdesk-instance@N, or delete its pod)"
        )

    async def add_instance(self) -> InstanceInfo:
        raise EngineError(
            "fleet members are added by starting one more `pairdesk instance` with "
            "fleet_database_url (systemd unit or StatefulSet replicas), see docs/FLEET.md"
        )

    # ---------------------------------------------------------- diagnostics

    async def session_timeline(self, session_id: str) -> list[TimelineEntry]:
        return await self._need()[1].timeline(session_id)

    async def list_outbox(self, state: str = "") -> list[OutboxItem]:
        return await self._need()[1].outbox(state)

    async def retry_outbox(self, event_ids: Sequence[str] = ()) -> int:
        return await self._need()[1].retry_outbox(event_ids)

    async def instance_log(self, instance_id: str, lines: int = 200) -> list[str]:
        return [
            f"{instance_id} is a fleet member: its log is on its host "
            "(journalctl -u pairdesk-instance@N, or kubectl logs)"
        ]

    async def doctor(self) -> list[CheckResult]:
        return await run_checks(self._settings, launch_browser=False)


def lease_health(m: MemberInfo) -> str:
    """One line for a member's card: 'leases: 12 held, oldest renewed 3 s ago, 2 expired'."""
    parts = [f"{m.sessions} held"]
    if m.renewed_ago is not None:
        parts.append(f"oldest renewed {m.renewed_ago:.0f} s ago")
    if m.expired:
        parts.append(f"{m.expired} expired (waiting for another member)")
    return "leases: " + ", ".join(parts)


def _as_fleet_knows(info: SessionInfo, row: SessionRow, members: list[MemberInfo]) -> SessionInfo:
    """`info` (stored, overlaid with what live members said) as the fleet knows it."""
    assert row.lease is not None
    seen = fleet_state(
        state=info.state,
        reason=info.reason,
        instance_id=info.instance_id,
        lease=row.lease,
        members=members,
    )
    if not seen.detail:
        return info
    return dataclasses.replace(
        info,
        state=seen.state,
        reason=seen.reason,
        instance_id=row.lease.owner or info.instance_id,
        qr="",
        qr_expires_at=None,
        pairing_code="",
        pairing_phone="",
        pairing_code_expires_at=None,
        memory_bytes=0,
    )


def _lapse_event(row: SessionRow, state: SessionState, reason: Reason | None) -> EngineEvent:
    assert row.lease is not None
    return SessionStateChanged(
        session_id=row.session_id,
        workspace_id=row.workspace_id,
        state=state,
        previous=SessionState(row.stored_state),
        reason=reason,
        detail=row.detail,
        instance_id=row.lease.owner or "",
    )
