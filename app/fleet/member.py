"""One fleet member's lease loop: renew, drop, claim, adopt, ship snapshots, hand over.

Every TTL/3 the member renews all its leases in one statement (the send time
of that statement, on this machine's boot clock (`clock.py`), plus TTL minus the
margin is each lease's *local deadline*) and:

- stops the page of every session the renewal did not return, at once, its
  epoch forgotten first so nothing more is written about it;
- claims new sessions (within capacity, in rendezvous order) and adopts them:
  account pointed here (fenced), snapshot fetched from shared storage into the
  local session folder, then started when it has a login to restore;
- ships changed snapshots (`state.json`) to shared storage, fenced;
- when draining, hands sessions over a few at a time: page stopped (final
  snapshot), snapshot shipped, lease released;
- arms the watchdog at the earliest local deadline.

When the database cannot be reached the member keeps its pages until one
margin before their local deadline, then stops them itself (the watchdog's
kill is the backstop for a frozen process). Finding on waking that a deadline
already passed (the process was frozen) raises `MemberFenced`: the watchdog
killed its browser, so the process exits and its supervisor restarts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path

from app.domain.models import SessionInfo
from app.domain.states import Reason, SessionState
from app.engine.instance.instance import Instance
from app.engine.instance.store import should_restore
from app.engine.session.folder import STATE, SessionFolder, atomic_write
from app.engine.vault import SealedUnreadable
from app.fleet.clock import now as clock_now
from app.fleet.leases import Lease, LeaseStore, StaleEpoch
from app.fleet.rendezvous import first_choice
from app.fleet.snapshots import SnapshotStore
from app.fleet.store import FencedInstanceStore
from app.fleet.watchdog_client import Watchdog

log = logging.getLogger(__name__)


# Sessions a member hands over per round when rebalancing onto a joining member.
REBALANCE_STEP = 2


class MemberFenced(RuntimeError):
    """This member was frozen past its lease deadline: its browser is gone, it must restart."""


# Past the claimable moment: the database's clock and the wake-up are not one tick.
_CLAIM_SLACK = 0.05


class FleetMember:
    def __init__(
        self,
        *,
        name: str,
        advertise_url: str,
        capacity: int,
        batch: int,
        margin: float,
        sessions_dir: Path,
        leases: LeaseStore,
        store: FencedInstanceStore,
        instance: Instance,
        snapshots: SnapshotStore,
        watchdog: Watchdog,
        epochs: dict[str, int],
        clock: Callable[[], float] = clock_now,
        adopt_concurrency: int = 4,
    ) -> None:
        self.name = name
        self.advertise_url = advertise_url
        self.capacity = capacity
        self.batch = batch
        self.ttl = leases.ttl
        self.margin = margin
        self._sessions_dir = sessions_dir
        self._leases = leases
        self._store = store
        self._instance = instance
        self._snapshots = snapshots
        self._watchdog = watchdog
        self._epochs = epochs
        self._clock = clock
        self._deadlines: dict[str, float] = {}
        self._workspaces: dict[str, int] = {}
        self._shipped: dict[str, tuple[int, int]] = {}  # sid -> (mtime_ns, size) shipped
        self._adopting: set[asyncio.Task[None]] = set()
        # As many adoptions at once as the instance restores at once after a restart.
        self._gate = asyncio.Semaphore(max(1, adopt_concurrency))
        self._next_claimable: float | None = None  # seconds, from the last round

    @property
    def held(self) -> dict[str, int]:
        return dict(self._epochs)

    # ---------------------------------------------------------------- the loop

    async def run(self, stop: asyncio.Event) -> None:
        await asyncio.to_thread(
            self._leases.register,
            self.name,
            advertise_url=self.advertise_url,
            capacity=self.capacity,
            pid=os.getpid(),
        )
        log.info("fleet member %s registered at %s", self.name, self.advertise_url)
        while not stop.is_set():
            started = self._clock()
            await self.tick()
            wait = max(0.0, self.ttl / 3 - (self._clock() - started))
            if self._next_claimable is not None:  # a lapsing lease: be there when it is free
                wait = min(wait, self._next_claimable + _CLAIM_SLACK)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)

    async def tick(self) -> None:
        sent = self._clock()
        if self._deadlines and sent >= min(self._deadlines.values()):
            for sid in list(self._epochs):
                self._forget(sid)
            raise MemberFenced(
                f"{self.name} was not running past its lease deadline (frozen or starved); "
                "its browser was closed by the watchdog and its sessions are taken over; "
                "the process exits so its supervisor restarts it"
            )
        try:
            # A partition that swallows packets must not hold the loop: a renewal that
            # has not answered within one renewal period counts as failed.
            async with asyncio.timeout(self.ttl / 3):
                renewed = await asyncio.to_thread(self._leases.renew, self.name)
        except Exception as exc:
            log.warning(
                "%s: cannot renew leases (%s); pages close at their deadline", self.name, exc
            )
            await self._enforce_own_deadlines()
            self._arm()
            return
        returned = {lease.session_id for lease in renewed}
        for sid in [s for s in self._epochs if s not in returned]:
            await self._drop(sid, "its lease was not renewed")
        for lease in renewed:
            self._deadlines[lease.session_id] = sent + self.ttl - self.margin
        self._arm()
        try:
            self._next_claimable = None
            if await asyncio.to_thread(self._leases.is_draining, self.name):
                await self._hand_over(list(self._epochs)[: self.batch])
            else:
                await self._claim()
                await self._rebalance()
                if len(self._epochs) < self.capacity:
                    self._next_claimable = await asyncio.to_thread(
                        self._leases.seconds_until_claimable, self.name
                    )
            await self._ship_changed()
        except Exception as exc:
            log.warning("%s: fleet round incomplete (%s); retrying next round", self.name, exc)
        self._arm()

    async def _claim(self) -> None:
        """Claim batch after batch until nothing more is claimable or this member is full.

        Each statement locks at most `batch` rows, briefly; looping within the round
        brings a lost member's sessions back in one round instead of one batch per
        TTL/3 (with 50 sessions and a batch of 5, that alone was 50 s)."""
        while len(self._epochs) < self.capacity:
            sent = self._clock()
            claimed = await asyncio.to_thread(
                self._leases.claim, self.name, capacity=self.capacity, batch=self.batch
            )
            for lease in claimed:
                self._epochs[lease.session_id] = lease.epoch
                self._deadlines[lease.session_id] = sent + self.ttl - self.margin
            self._arm()
            for lease in claimed:
                task = asyncio.create_task(self._adopt(lease), name=f"adopt {lease.session_id}")
                self._adopting.add(task)
                task.add_done_callback(self._adopting.discard)
            if len(claimed) < self.batch:
                return

    def _arm(self) -> None:
        if self._deadlines:
            self._watchdog.arm(min(self._deadlines.values()))
        else:
            self._watchdog.disarm()

    async def _enforce_own_deadlines(self) -> None:
        """Without renewals: stop each page one margin before the watchdog would."""
        now = self._clock()
        for sid, deadline in list(self._deadlines.items()):
            if now >= deadline - self.margin:
                await self._drop(sid, "its lease could not be renewed before its deadline")

    # ------------------------------------------------------------- sessions

    def _forget(self, sid: str) -> None:
        self._epochs.pop(sid, None)
        self._deadlines.pop(sid, None)
        self._shipped.pop(sid, None)

    async def _drop(self, sid: str, why: str) -> None:
        log.warning("%s: stopping %s: %s", self.name, sid, why)
        self._forget(sid)  # first: nothing more is written about it from here
        try:
            await self._instance.drop_session(sid)
        except Exception as exc:
            log.warning("%s: stopping %s failed: %s", self.name, sid, exc)

    async def _adopt(self, lease: Lease) -> None:
        sid = lease.session_id
        async with self._gate:
            try:
                info = await asyncio.to_thread(self._store.assign, sid, lease.epoch)
                self._workspaces[sid] = info.workspace_id
                folder = SessionFolder(self._sessions_dir, info.workspace_id, sid)
                try:
                    data = await asyncio.to_thread(self._snapshots.get, sid)
                except SealedUnreadable:
                    self._unreadable(info)
                    return
                if data is not None:
                    await asyncio.to_thread(_write_state, folder, data)
                    self._shipped[sid] = _stat(folder)
                restore = should_restore(info, self._sessions_dir)
                if info.state is not SessionState.STOPPED:
                    self._instance.sessions.synthesize(
                        info, SessionState.STOPPED, f"taken over by {self.name}",
                        Reason.INSTANCE_RESTART,
                    )  # fmt: skip
                if restore and sid in self._epochs:
                    await self._instance.sessions.start_session(sid)
                log.info("%s: adopted %s (epoch %d)", self.name, sid, lease.epoch)
            except Exception as exc:
                log.warning("%s: could not adopt %s: %s", self.name, sid, exc)

    def _unreadable(self, info: SessionInfo) -> None:
        """The shared snapshot does not open with this member's fleet key: the session
        fails (not a QR: the login still exists, sealed with another key) and says why."""
        message = (
            f"its saved login in shared storage does not open with the fleet key of {self.name} "
            "(fleet_key_file): every member must use the same key file; fix this member's "
            "fleet_key_file and restart it, then start the session again"
        )
        log.error("%s: %s: %s", self.name, info.session_id, message)
        self._instance.sessions.synthesize(info, SessionState.FAILED, message, Reason.STATE_CORRUPT)

    async def _ship_changed(self) -> None:
        for sid, epoch in list(self._epochs.items()):
            workspace = self._workspaces.get(sid)
            if workspace is None:
                continue
            folder = SessionFolder(self._sessions_dir, workspace, sid)
            stat = await asyncio.to_thread(_stat, folder)
            if stat == (0, 0) or self._shipped.get(sid) == stat:
                continue
            data = await asyncio.to_thread(_read_clear, folder)
            try:
                await asyncio.to_thread(self._snapshots.put, sid, self.name, epoch, data)
                self._shipped[sid] = stat
            except StaleEpoch:
                await self._drop(sid, "another member holds it now (snapshot refused)")

    async def _rebalance(self) -> None:
        """Give a joining member its share, a few sessions per round.

        When this member holds more than its fair share (the sessions held over
        the live, non-draining members), it hands over up to `REBALANCE_STEP`
        sessions whose first choice is another member with room; that member
        claims them at once (first choice), so about 1/N of the sessions move
        to a new member, gradually, each a clean hand-over.
        """
        members = [m for m in await asyncio.to_thread(self._leases.members) if m.alive]
        placing = [m for m in members if not m.draining]
        if len(placing) < 2 or all(m.name != self.name for m in placing):
            return
        total = sum(m.sessions for m in placing)
        fair = -(-total // len(placing))  # ceiling
        excess = len(self._epochs) - fair
        if excess <= 0:
            return
        room = {m.name: m.capacity - m.sessions for m in placing if m.name != self.name}
        names = [m.name for m in placing]
        live = self._instance.sessions.live()
        moving: list[str] = []
        for sid in list(self._epochs):
            info = live.get(sid)
            if info is None or info.state is not SessionState.CONNECTED:
                continue  # never move a session someone may be scanning or fixing
            target = first_choice(sid, names)
            if target is not None and target != self.name and room.get(target, 0) > 0:
                room[target] -= 1
                moving.append(sid)
            if len(moving) >= min(excess, REBALANCE_STEP):
                break
        if moving:
            log.info("%s: rebalancing %d session(s) to their first choice", self.name, len(moving))
            await self._hand_over(moving)

    async def _hand_over(self, sids: list[str]) -> None:
        """Move `sids` away: stop (final snapshot), ship, release."""
        for sid in sids:
            await self._instance.drop_session(sid)  # still held: its last events are recorded
            await self._instance.flush()
            self._shipped.pop(sid, None)
            await self._ship_changed()
            self._forget(sid)
            await asyncio.to_thread(self._leases.release, self.name, [sid])
            log.info("%s: handed %s over", self.name, sid)
        self._arm()

    async def aclose(self) -> None:
        """Clean leave, once the instance closed its sessions: ship, release, disarm."""
        for task in list(self._adopting):
            task.cancel()
        with contextlib.suppress(Exception):
            await self._ship_changed()
        with contextlib.suppress(Exception):
            released = await asyncio.to_thread(self._leases.release, self.name)
            log.info("%s: released %d lease(s) for immediate take-over", self.name, released)
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self._leases.unregister, self.name)
        for sid in list(self._epochs):
            self._forget(sid)
        self._watchdog.disarm()


def _stat(folder: SessionFolder) -> tuple[int, int]:
    try:
        st = (folder.path / STATE).stat()
    except OSError:
        return (0, 0)
    return (st.st_mtime_ns, st.st_size)


def _read_clear(folder: SessionFolder) -> bytes:
    """The snapshot opened with this host's vault: each member's sessions folder has a
    key of its own, so what travels is the clear state, sealed by the shared store
    with the fleet key instead (docs/FLEET.md, "Snapshots")."""
    return folder.vault.open((folder.path / STATE).read_bytes(), session_id=folder.session_id)


def _write_state(folder: SessionFolder, data: bytes) -> None:
    """A snapshot from shared storage into the local folder, sealed with this host's key."""
    folder.ensure()
    atomic_write(folder.path / STATE, folder.vault.seal(data, session_id=folder.session_id))
