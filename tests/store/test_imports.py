"""Import batches: recording an onboarding file and its per-row results."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from app.domain.models import AccountSpec
from app.store import ImportBatchNotFound, accounts, imports


def test_batch_lifecycle(session: Session, now: datetime) -> None:
    rows = [
        {"row": 2, "workspace_id": 7, "status": "valid"},
        {"row": 3, "error": "phone number is empty"},
    ]
    batch = imports.create_batch(
        session, file_name="june.xlsx", now=now, rows_total=2, rows_valid=1, results=rows
    )
    created = accounts.create_accounts(
        session, [AccountSpec(workspace_id=7)], now=now, import_batch_id=batch.batch_id
    )
    done = [{**rows[0], "session_id": created[0].session_id}, rows[1]]
    imports.record_results(session, batch.batch_id, rows_created=1, results=done)
    session.commit()
    stored = imports.get_batch(session, batch.batch_id)
    assert (stored.file_name, stored.rows_total, stored.rows_valid, stored.rows_created) == (
        "june.xlsx",
        2,
        1,
        1,
    )
    assert stored.results == tuple(done) and stored.created_at == now
    members = accounts.list_accounts(session, import_batch_id=batch.batch_id)
    assert [m.session_id for m in members] == [created[0].session_id]
    assert members[0].import_batch_id == batch.batch_id


def test_list_newest_first_and_errors(session: Session, now: datetime) -> None:
    for n in range(3):
        imports.create_batch(
            session, file_name=f"f{n}.csv", now=now + timedelta(hours=n), rows_total=1, rows_valid=1
        )
    assert [b.file_name for b in imports.list_batches(session, limit=2)] == ["f2.csv", "f1.csv"]
    with pytest.raises(ImportBatchNotFound):
        imports.get_batch(session, 999)
    with pytest.raises(ImportBatchNotFound):
        imports.record_results(session, 999, rows_created=1)
    with pytest.raises(ValueError, match="rows_valid"):
        imports.create_batch(session, file_name="x", now=now, rows_total=1, rows_valid=2)
