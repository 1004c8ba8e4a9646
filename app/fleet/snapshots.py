"""Login snapshots in shared storage, so a session restores on any member without a QR.

The bytes are the session folder's clear `state.json`; they are stored sealed by
the `SnapshotCipher` passed in (the fleet key, app/fleet/fleet_key.py), so this
module never knows keys. Two stores:

- `DatabaseSnapshots` (default): the bytes in `session_snapshots.data`, written
  in the same transaction as the epoch check;
- `S3Snapshots` (`snapshot_store = "s3://bucket/prefix"`, app/fleet/s3.py): the
  bytes in an object named by session, epoch and digest; only the pointer row
  moves under the epoch check, so a fenced member's upload is never read.
"""

from __future__ import annotations

import hashlib
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from app.fleet.leases import LeaseStore
from app.store.fleet_models import SessionSnapshot


class SnapshotCipher(Protocol):
    """Seals a snapshot bound to its session (`FleetCipher`, or `Vault`)."""

    def seal(self, data: bytes, *, session_id: str) -> bytes: ...

    def open(self, blob: bytes, *, session_id: str) -> bytes: ...


class SnapshotStore(Protocol):
    def put(self, session_id: str, owner: str, epoch: int, data: bytes) -> None:
        """Store the snapshot; `StaleEpoch` when (owner, epoch) no longer holds the session."""
        ...

    def get(self, session_id: str) -> bytes | None: ...


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_pointer(
    session: Session,
    *,
    session_id: str,
    epoch: int,
    location: str,
    data: bytes | None,
    size: int,
    sha256: str,
) -> None:
    """Upsert the snapshot row (the caller has fenced this transaction)."""
    values = {
        "epoch": epoch,
        "location": location,
        "data": data,
        "size": size,
        "sha256": sha256,
        "updated_at": func.now(),
    }
    stmt = pg_insert(SessionSnapshot).values(session_id=session_id, **values)
    session.execute(
        stmt.on_conflict_do_update(index_elements=[SessionSnapshot.session_id], set_=values)
    )


class DatabaseSnapshots:
    """Snapshots as rows of the fleet database."""

    def __init__(self, leases: LeaseStore, *, cipher: SnapshotCipher) -> None:
        self._leases = leases
        self._cipher = cipher

    def put(self, session_id: str, owner: str, epoch: int, data: bytes) -> None:
        sealed = self._cipher.seal(data, session_id=session_id)
        with self._leases.sessions.begin() as session:
            LeaseStore.fence(session, session_id, owner, epoch)
            write_pointer(
                session,
                session_id=session_id,
                epoch=epoch,
                location="db",
                data=sealed,
                size=len(sealed),
                sha256=digest(data),
            )

    def get(self, session_id: str) -> bytes | None:
        with self._leases.sessions() as session:
            sealed = session.scalar(
                select(SessionSnapshot.data).where(SessionSnapshot.session_id == session_id)
            )
        return None if sealed is None else self._cipher.open(sealed, session_id=session_id)
