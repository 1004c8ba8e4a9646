"""ORM models of fleet mode (docs/FLEET.md): members, session leases, snapshots.

Fleet mode coordinates many `pairdesk instance` processes through one
PostgreSQL database. These tables exist on every database (the migrations are
one chain), but only fleet members write them; the embedded local engine
leaves them empty. Every time that decides ownership (`expires_at`,
`heartbeat_at`) is written from the database's clock, never a member's, so
members with skewed clocks still agree on who owns what.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.store._types import UTCDateTime
from app.store.models import INSTANCE_ID_LENGTH, SESSION_ID_LENGTH, Base


class FleetMember(Base):
    """One fleet member (`pairdesk instance` with `fleet_database_url`), by its stable name."""

    __tablename__ = "fleet_members"

    name: Mapped[str] = mapped_column(String(INSTANCE_ID_LENGTH), primary_key=True)
    advertise_url: Mapped[str] = mapped_column(String(300), default="")
    host: Mapped[str] = mapped_column(String(255), default="")
    pid: Mapped[int] = mapped_column(Integer, default=0)
    capacity: Mapped[int] = mapped_column(Integer, default=0)
    draining: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SessionLease(Base):
    """Who runs a session, until when, under which epoch (the fencing token).

    `epoch` grows by one at every claim and never goes back, so a write
    carrying an older epoch is from a member that lost the session.
    `owner` is NULL when released; `expires_at` is the database's clock.
    """

    __tablename__ = "session_leases"
    __table_args__ = (Index("ix_session_leases_owner", "owner"),)

    session_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.session_id", ondelete="CASCADE", onupdate="CASCADE"),
        primary_key=True,
    )
    owner: Mapped[str | None] = mapped_column(String(INSTANCE_ID_LENGTH))
    epoch: Mapped[int] = mapped_column(BigInteger, default=0)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SessionSnapshot(Base):
    """The latest login snapshot of a session, in shared storage.

    `data` holds the (encrypted) bytes when the fleet database is the store;
    with S3 it is NULL and `location` names the object. `epoch` is the lease
    epoch the snapshot was written under: the pointer moves only with a
    current epoch.
    """

    __tablename__ = "session_snapshots"

    session_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.session_id", ondelete="CASCADE", onupdate="CASCADE"),
        primary_key=True,
    )
    epoch: Mapped[int] = mapped_column(BigInteger)
    location: Mapped[str] = mapped_column(String(1000), default="")
    data: Mapped[bytes | None] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    sha256: Mapped[str] = mapped_column(String(64), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


__all__ = ["SESSION_ID_LENGTH", "FleetMember", "SessionLease", "SessionSnapshot"]
