"""ORM models of the store, SQLAlchemy 2.0 typed style.

These classes never leave `app.store`: repositories map rows to the frozen
values of `app.domain` first. States and reasons are stored as their stable
string codes with CHECK constraints, so a bad write fails loudly instead of
leaving a row nobody can read back. Every timestamp is an aware UTC datetime.

Changing a model means adding an Alembic revision under `migrations/versions`;
`tests/store/test_migrations.py` fails while the two disagree.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from app.domain.outbox import OutboxState
from app.domain.states import STORED_REASONS, CentralStatus, SessionState
from app.store._types import BigIntId, UTCDateTime

# Named constraints, so later migrations can drop or alter them by name
# (SQLite batch mode needs names too).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SESSION_ID_LENGTH = 128
INSTANCE_ID_LENGTH = 64


def _one_of(column: str, values: Iterable[Any]) -> str:
    codes = ", ".join(f"'{member.value}'" for member in values)
    return f"{column} IN ({codes})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Account(Base):
    """One linked (or to-be-linked) WhatsApp account and its engine session."""

    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint(_one_of("state", SessionState), name="state"),
        CheckConstraint(_one_of("central_status", CentralStatus), name="central_status"),
        CheckConstraint(f"reason IS NULL OR {_one_of('reason', STORED_REASONS)}", name="reason"),
        Index("ix_accounts_instance_id_state", "instance_id", "state"),
    )

    uuid: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    session_id: Mapped[str] = mapped_column(String(SESSION_ID_LENGTH), unique=True)
    workspace_id: Mapped[int] = mapped_column(BigInteger, index=True)
    account_id: Mapped[int | None] = mapped_column(BigInteger)
    label: Mapped[str] = mapped_column(String(200), default="")
    phone_number: Mapped[str] = mapped_column(String(20), default="")
    central_status: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str | None] = mapped_column(String(32))
    instance_id: Mapped[str | None] = mapped_column(String(INSTANCE_ID_LENGTH))
    import_batch_id: Mapped[int | None] = mapped_column(
        ForeignKey("import_batches.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    state_changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_latency_ms: Mapped[float | None] = mapped_column(Float)
    memory_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    qr_issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    qr_count: Mapped[int] = mapped_column(Integer, default=0)
    restarts: Mapped[int] = mapped_column(Integer, default=0)
    extraction_method: Mapped[str] = mapped_column(String(16), default="")
    platform: Mapped[str] = mapped_column(String(32), default="")
    # The account's proxy: the URL without its password (safe to show), and the password
    # apart, read only by the instance that opens the session's browser context.
    proxy_url: Mapped[str] = mapped_column(String(500), default="", server_default="")
    proxy_password: Mapped[str] = mapped_column(String(500), default="", server_default="")
    # `metadata` is reserved on declarative classes; the column keeps the name.
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)


class SessionEvent(Base):
    """One recorded transition of a session: the diagnostics timeline."""

    __tablename__ = "session_events"
    __table_args__ = (
        CheckConstraint(_one_of("state", SessionState), name="state"),
        CheckConstraint(
            f"previous IS NULL OR {_one_of('previous', SessionState)}", name="previous"
        ),
        CheckConstraint(f"reason IS NULL OR {_one_of('reason', STORED_REASONS)}", name="reason"),
        Index("ix_session_events_session_id_id", "session_id", "id"),
        Index("ix_session_events_at", "at"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.session_id", ondelete="CASCADE", onupdate="CASCADE")
    )
    state: Mapped[str] = mapped_column(String(16))
    previous: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class Instance(Base):
    """One shard worker process as last reported."""

    __tablename__ = "instances"

    id: Mapped[str] = mapped_column(String(INSTANCE_ID_LENGTH), primary_key=True)
    index: Mapped[int] = mapped_column(Integer, unique=True)
    url: Mapped[str] = mapped_column(String(300), default="")
    pid: Mapped[int] = mapped_column(Integer, default=0)
    capacity: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cpu_percent: Mapped[float] = mapped_column(Float, default=0.0)
    memory_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    sessions_total: Mapped[int] = mapped_column(Integer, default=0)
    sessions_connected: Mapped[int] = mapped_column(Integer, default=0)
    restarts: Mapped[int] = mapped_column(Integer, default=0)
    # ISO 8601 strings of the most recent restarts, newest last (bounded).
    restart_history: Mapped[list[str]] = mapped_column(JSON, default=list)


class ImportBatch(Base):
    """One onboarding import of a CSV/XLSX file and its per-row results."""

    __tablename__ = "import_batches"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    file_name: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_valid: Mapped[int] = mapped_column(Integer, default=0)
    rows_created: Mapped[int] = mapped_column(Integer, default=0)
    results: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class OutboxRow(Base):
    """One webhook to deliver to the central API (docs/SYNC.md).

    No foreign key to `accounts`: the last event of a removed account must
    still be delivered. `id` gives the per-session order.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(_one_of("state", OutboxState), name="state"),
        Index("ix_outbox_state_session_id_id", "state", "session_id", "id"),
        Index("ix_outbox_session_id", "session_id"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    session_id: Mapped[str] = mapped_column(String(SESSION_ID_LENGTH))
    name: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")
    last_status: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default=OutboxState.PENDING.value)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Fleet mode: the lease epoch of the member that wrote the row (NULL outside a fleet);
    # a row is enqueued only while that epoch is current (docs/FLEET.md).
    epoch: Mapped[int | None] = mapped_column(BigInteger)
