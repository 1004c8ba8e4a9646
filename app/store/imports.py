"""Onboarding import batches: one row per imported CSV/XLSX file.

The onboarding flow validates every row first, records the batch with
`create_batch`, creates the accounts (tagged with the batch id, see
`accounts.create_accounts(import_batch_id=...)`), and keeps per-row results
(errors, session ids, scan timings) up to date with `record_results`, from
which the exported result file is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.models import ImportBatchInfo
from app.store.errors import StoreError
from app.store.models import ImportBatch

__all__ = [
    "ImportBatchNotFound",
    "create_batch",
    "find_batch",
    "get_batch",
    "list_batches",
    "record_results",
]

MAX_FILE_NAME = 500


class ImportBatchNotFound(StoreError, LookupError):
    def __init__(self, batch_id: int) -> None:
        self.batch_id = batch_id
        super().__init__(f"no import batch {batch_id}; it may have been removed")


def _to_info(row: ImportBatch) -> ImportBatchInfo:
    return ImportBatchInfo(
        batch_id=row.id,
        file_name=row.file_name,
        created_at=row.created_at,
        rows_total=row.rows_total,
        rows_valid=row.rows_valid,
        rows_created=row.rows_created,
        results=tuple(dict(item) for item in row.results or ()),
    )


def create_batch(
    session: Session,
    *,
    file_name: str,
    now: datetime,
    rows_total: int,
    rows_valid: int,
    results: Sequence[Mapping[str, Any]] = (),
) -> ImportBatchInfo:
    """Record a validated import before its accounts are created; results must be JSON-ready."""
    if not 0 <= rows_valid <= rows_total:
        raise ValueError(
            f"rows_valid ({rows_valid}) must be between 0 and rows_total ({rows_total})"
        )
    row = ImportBatch(
        file_name=file_name[-MAX_FILE_NAME:],
        created_at=now,
        rows_total=rows_total,
        rows_valid=rows_valid,
        rows_created=0,
        results=[dict(item) for item in results],
    )
    session.add(row)
    session.flush()
    return _to_info(row)


def record_results(
    session: Session,
    batch_id: int,
    *,
    rows_created: int | None = None,
    results: Sequence[Mapping[str, Any]] | None = None,
) -> ImportBatchInfo:
    """Update the created count and/or replace the per-row results."""
    row = session.get(ImportBatch, batch_id)
    if row is None:
        raise ImportBatchNotFound(batch_id)
    if rows_created is not None:
        row.rows_created = rows_created
    if results is not None:
        row.results = [dict(item) for item in results]
    session.flush()
    return _to_info(row)


def find_batch(session: Session, batch_id: int) -> ImportBatchInfo | None:
    row = session.get(ImportBatch, batch_id)
    return None if row is None else _to_info(row)


def get_batch(session: Session, batch_id: int) -> ImportBatchInfo:
    info = find_batch(session, batch_id)
    if info is None:
        raise ImportBatchNotFound(batch_id)
    return info


def list_batches(session: Session, *, limit: int = 50) -> list[ImportBatchInfo]:
    """The most recent imports first."""
    rows = session.scalars(select(ImportBatch).order_by(ImportBatch.id.desc()).limit(limit))
    return [_to_info(row) for row in rows]
