"""Session leases with fencing, on PostgreSQL (docs/FLEET.md, "Leases").

One row per session in `session_leases`: owner, epoch, expiry. Every time
that decides ownership comes from the database's clock (`now()`), so members'
clocks never have to agree. The rules:

- `claim`: unowned rows, and owned rows expired for longer than `grace`, are
  locked with `FOR UPDATE SKIP LOCKED` (two members never wait on each
  other, never take the same row) and taken in rendezvous preference order,
  within the member's free capacity. A session's first choice takes it at
  once; the others wait `patience` more, so sessions spread by hash rather
  than by who asked first. Each claim bumps the epoch.
- `renew`: one UPDATE for all of a member's live leases, returning those it
  still holds. An expired lease is never revived: the member's watchdog may
  already have closed its page, and someone else may be about to take it.
- `release`: owner cleared and expiry set to now, for immediate take-over.
- `fence`: inside the caller's transaction, `FOR SHARE` on the lease row with
  the expected owner and epoch, unexpired; raises `StaleEpoch` otherwise.
  A concurrent claim (which needs `FOR UPDATE`) waits for that transaction,
  so a fenced write and a take-over are strictly ordered.
"""

from __future__ import annotations

import socket
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session, sessionmaker

from app.fleet.rendezvous import rank_of, weight
from app.store import session_factory
from app.store.fleet_models import FleetMember, SessionLease
from app.store.models import Account


class StaleEpoch(Exception):
    """A write about a session came from a member that no longer holds its lease."""

    def __init__(self, session_id: str, owner: str, epoch: int) -> None:
        super().__init__(
            f"{session_id}: the lease of {owner} at epoch {epoch} is no longer current; "
            "the write was refused (another member runs the session now)"
        )
        self.session_id = session_id
        self.owner = owner
        self.epoch = epoch


LeaseRow = tuple[str, str | None, int, datetime | None]


@dataclass(frozen=True)
class Lease:
    session_id: str
    owner: str
    epoch: int
    expires_at: datetime


def _lease(session_id: str, owner: str, epoch: int, expires_at: datetime | None) -> Lease:
    # Claim and renew always set the expiry; None here would be a bug in this module.
    assert expires_at is not None
    return Lease(session_id, owner, int(epoch), expires_at)


@dataclass(frozen=True)
class MemberInfo:
    name: str
    advertise_url: str
    host: str
    pid: int
    capacity: int
    draining: bool
    alive: bool
    sessions: int  # leases held (unexpired)
    heartbeat_at: datetime
    expired: int = 0  # leases it still owns that expired (it stopped renewing them)
    renewed_ago: float | None = None  # seconds since its oldest held lease was renewed
    started_at: datetime | None = None  # when it last registered: a restart changes it


class LeaseStore:
    """The lease rules over one PostgreSQL engine (the fleet database)."""

    def __init__(self, engine: Engine, *, ttl: float, grace: float) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError("fleet_database_url must be a PostgreSQL URL (postgresql://...)")
        self._engine = engine
        self._sessions: sessionmaker[Session] = session_factory(engine)
        self.ttl = ttl
        self.grace = grace
        # How much longer a session waits for its first-choice member: one renewal period.
        self.patience = ttl / 3

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self._sessions

    @property
    def engine(self) -> Engine:
        return self._engine

    # ---------------------------------------------------------------- members

    def register(
        self, name: str, *, advertise_url: str, capacity: int, pid: int, host: str = ""
    ) -> None:
        values = {
            "advertise_url": advertise_url,
            "host": host or socket.gethostname(),
            "pid": pid,
            "capacity": capacity,
            "draining": False,
            "heartbeat_at": func.now(),
        }
        stmt = pg_insert(FleetMember).values(name=name, started_at=func.now(), **values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[FleetMember.name], set_=values | {"started_at": func.now()}
        )
        with self._sessions.begin() as session:
            session.execute(stmt)

    def set_draining(self, name: str, draining: bool = True) -> bool:
        with self._sessions.begin() as session:
            result = session.execute(
                update(FleetMember).where(FleetMember.name == name).values(draining=draining)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def is_draining(self, name: str) -> bool:
        with self._sessions() as session:
            value = session.scalar(select(FleetMember.draining).where(FleetMember.name == name))
            return bool(value)

    def unregister(self, name: str) -> None:
        with self._sessions.begin() as session:
            session.execute(
                update(FleetMember)
                .where(FleetMember.name == name)
                .values(heartbeat_at=func.now() - timedelta(seconds=self.ttl * 2))
            )

    def members(self) -> list[MemberInfo]:
        alive_since = func.now() - timedelta(seconds=self.ttl)
        live = SessionLease.expires_at > func.now()
        held = (
            select(
                SessionLease.owner,
                func.count().filter(live).label("n"),
                func.count().filter(~live).label("expired"),
                func.min(SessionLease.expires_at).filter(live).label("oldest"),
            )
            .where(SessionLease.owner.is_not(None))
            .group_by(SessionLease.owner)
            .subquery()
        )
        stmt = (
            select(
                FleetMember,
                FleetMember.heartbeat_at > alive_since,
                held.c.n,
                held.c.expired,
                held.c.oldest,
                func.now(),
            )
            .outerjoin(held, held.c.owner == FleetMember.name)
            .order_by(FleetMember.name)
        )
        ttl = timedelta(seconds=self.ttl)
        with self._sessions() as session:
            return [
                MemberInfo(
                    name=m.name,
                    advertise_url=m.advertise_url,
                    host=m.host,
                    pid=m.pid,
                    capacity=m.capacity,
                    draining=m.draining,
                    alive=bool(alive),
                    sessions=int(n or 0),
                    heartbeat_at=m.heartbeat_at,
                    started_at=m.started_at,
                    expired=int(expired or 0),
                    # Every lease is renewed to now() + TTL: the earliest expiry minus
                    # the TTL is when the least recently renewed one was last renewed.
                    renewed_ago=(
                        max(0.0, (db_now - (oldest - ttl)).total_seconds())
                        if oldest is not None
                        else None
                    ),
                )
                for m, alive, n, expired, oldest, db_now in session.execute(stmt)
            ]

    def _placing_members(self, session: Session) -> list[str]:
        """Members that take sessions: alive and not draining."""
        stmt = select(FleetMember.name).where(
            FleetMember.heartbeat_at > func.now() - timedelta(seconds=self.ttl),
            FleetMember.draining.is_(False),
        )
        return list(session.scalars(stmt))

    # ----------------------------------------------------------------- leases

    def ensure_rows(self) -> None:
        """A lease row for every account (new accounts are placed by the next claim)."""
        with self._sessions.begin() as session:
            self._ensure_rows(session)

    def _ensure_rows(self, session: Session) -> None:
        missing = select(Account.session_id, func.now()).where(
            ~select(SessionLease.session_id)
            .where(SessionLease.session_id == Account.session_id)
            .exists()
        )
        stmt = (
            pg_insert(SessionLease)
            .from_select(["session_id", "expires_at"], missing)
            .on_conflict_do_nothing(index_elements=[SessionLease.session_id])
        )
        session.execute(stmt)

    def claim(self, name: str, *, capacity: int, batch: int) -> list[Lease]:
        """Take up to `batch` claimable sessions, within `capacity` minus what `name` holds."""
        self.ensure_rows()
        with self._sessions.begin() as session:
            if self.is_draining_in(session, name):
                return []
            held = session.scalar(
                select(func.count())
                .select_from(SessionLease)
                .where(SessionLease.owner == name, SessionLease.expires_at > func.now())
            )
            room = min(batch, capacity - int(held or 0))
            if room <= 0:
                return []
            now = func.now()
            grace = timedelta(seconds=self.grace)
            patience = timedelta(seconds=self.patience)
            claimable = or_(
                SessionLease.owner.is_(None),
                SessionLease.expires_at.is_(None),
                SessionLease.expires_at < now - grace,
            )
            rows = session.execute(
                select(
                    SessionLease.session_id,
                    SessionLease.owner,
                    SessionLease.expires_at,
                    now.label("db_now"),
                )
                .where(claimable)
                .with_for_update(skip_locked=True)
            ).all()
            if not rows:
                return []
            members = self._placing_members(session) + [name]
            chosen: list[tuple[int, int, str]] = []
            for sid, owner, expires_at, db_now in rows:
                rank = rank_of(sid, name, members)
                if rank > 0:
                    # Not the first choice: wait one renewal period longer. Claimable since
                    # its release (owner NULL), or since its expiry plus the grace.
                    free_since: datetime | None = expires_at
                    if owner is not None and expires_at is not None:
                        free_since = expires_at + grace
                    if free_since is not None and db_now - free_since < patience:
                        continue
                chosen.append((rank, -weight(sid, name), sid))
            chosen.sort()
            picked = [sid for _, _, sid in chosen[:room]]
            if not picked:
                return []
            result = session.execute(
                update(SessionLease)
                .where(SessionLease.session_id.in_(picked))
                .values(
                    owner=name,
                    epoch=SessionLease.epoch + 1,
                    expires_at=now + timedelta(seconds=self.ttl),
                    claimed_at=now,
                )
                .returning(SessionLease.session_id, SessionLease.epoch, SessionLease.expires_at)
            )
            return [_lease(sid, name, epoch, exp) for sid, epoch, exp in result]

    def seconds_until_claimable(self, name: str) -> float | None:
        """Seconds until the soonest lease held by another member becomes claimable
        (its expiry plus the grace, by the database's clock); None when none is held.

        A live member renews every TTL/3, so its leases stay more than that far away;
        only a lapsing lease (its member killed, frozen or cut off) comes closer, and a
        member that wakes at that moment takes it over without waiting for its next
        round (up to TTL/3 later)."""
        with self._sessions() as session:
            left = session.scalar(
                select(func.extract("epoch", func.min(SessionLease.expires_at) - func.now())).where(
                    SessionLease.owner.is_not(None),
                    SessionLease.owner != name,
                    SessionLease.expires_at.is_not(None),
                )
            )
        if left is None:
            return None
        return max(0.0, float(left) + self.grace)

    @staticmethod
    def is_draining_in(session: Session, name: str) -> bool:
        return bool(session.scalar(select(FleetMember.draining).where(FleetMember.name == name)))

    def renew(self, name: str) -> list[Lease]:
        """Extend every live lease of `name` in one statement; the ones it still holds."""
        with self._sessions.begin() as session:
            result = session.execute(
                update(SessionLease)
                .where(SessionLease.owner == name, SessionLease.expires_at > func.now())
                .values(expires_at=func.now() + timedelta(seconds=self.ttl))
                .returning(SessionLease.session_id, SessionLease.epoch, SessionLease.expires_at)
            )
            leases = [_lease(sid, name, epoch, exp) for sid, epoch, exp in result]
            session.execute(
                update(FleetMember).where(FleetMember.name == name).values(heartbeat_at=func.now())
            )
            return leases

    def release(self, name: str, session_ids: Collection[str] | None = None) -> int:
        """Give leases back for immediate take-over (epochs kept: the next claim bumps them)."""
        stmt = update(SessionLease).where(SessionLease.owner == name)
        if session_ids is not None:
            stmt = stmt.where(SessionLease.session_id.in_(list(session_ids)))
        with self._sessions.begin() as session:
            result = session.execute(stmt.values(owner=None, expires_at=func.now()))
            return int(result.rowcount)  # type: ignore[attr-defined]

    def leases(self, owner: str | None = None) -> list[LeaseRow]:
        """(session_id, owner, epoch, expires_at) of every lease row, or of one owner's."""
        stmt = select(
            SessionLease.session_id,
            SessionLease.owner,
            SessionLease.epoch,
            SessionLease.expires_at,
        ).order_by(SessionLease.session_id)
        if owner is not None:
            stmt = stmt.where(SessionLease.owner == owner)
        with self._sessions() as session:
            return [(s, o, int(e), x) for s, o, e, x in session.execute(stmt)]

    @staticmethod
    def fence(session: Session, session_id: str, owner: str, epoch: int) -> None:
        """Refuse the caller's transaction unless (owner, epoch) still holds the session."""
        row = session.execute(
            select(SessionLease.session_id)
            .where(
                and_(
                    SessionLease.session_id == session_id,
                    SessionLease.owner == owner,
                    SessionLease.epoch == epoch,
                    SessionLease.expires_at > func.now(),
                )
            )
            .with_for_update(read=True)
        ).first()
        if row is None:
            raise StaleEpoch(session_id, owner, epoch)
