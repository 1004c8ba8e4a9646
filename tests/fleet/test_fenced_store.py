"""The member's instance store: writes about a session need its current lease."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from app.domain.events import QrIssued, SessionStateChanged
from app.domain.states import SessionState
from app.fleet.leases import LeaseStore
from app.fleet.store import FencedInstanceStore
from app.store import session_factory
from app.store.models import Account, OutboxRow
from tests.fleet.conftest import add_accounts, age_leases

pytestmark = pytest.mark.postgres


def _starting(sid: str) -> SessionStateChanged:
    return SessionStateChanged(
        session_id=sid, workspace_id=1, state=SessionState.STARTING, previous=SessionState.STOPPED
    )


def _state(engine: Engine, sid: str) -> tuple[str, list[int | None]]:
    with session_factory(engine)() as session:
        state = session.scalar(select(Account.state).where(Account.session_id == sid))
        epochs = list(session.scalars(select(OutboxRow.epoch).where(OutboxRow.session_id == sid)))
    assert state is not None
    return state, epochs


def test_a_held_session_is_recorded_with_its_epoch_on_the_outbox_row(
    leases: LeaseStore, fleet_engine: Engine
) -> None:
    (sid,) = add_accounts(fleet_engine, 1)
    leases.register("m1", advertise_url="http://m1", capacity=5, pid=1)
    (lease,) = leases.claim("m1", capacity=5, batch=5)
    store = FencedInstanceStore(leases=leases, member="m1", epochs={sid: lease.epoch})
    assert store.assign(sid, lease.epoch).instance_id == "m1"
    qr_state = SessionStateChanged(
        session_id=sid, workspace_id=1, state=SessionState.QR, previous=SessionState.STARTING
    )
    qr = QrIssued(
        session_id=sid,
        workspace_id=1,
        qr="2@fleet-test-ref,key,key,key",
        expires_at=datetime.now(UTC) + timedelta(seconds=20),
        qr_count=1,
    )
    assert store.record([_starting(sid), qr_state, qr]) == (3, 0)
    state, epochs = _state(fleet_engine, sid)
    assert state == "qr"
    assert epochs and set(epochs) == {lease.epoch}


def test_writes_of_a_member_that_lost_the_session_are_refused(
    leases: LeaseStore, fleet_engine: Engine
) -> None:
    (sid,) = add_accounts(fleet_engine, 1)
    leases.register("m1", advertise_url="http://m1", capacity=5, pid=1)
    (lease,) = leases.claim("m1", capacity=5, batch=5)
    epochs = {sid: lease.epoch}
    store = FencedInstanceStore(leases=leases, member="m1", epochs=epochs)
    # m1 freezes; its lease expires and m2 takes the session over.
    age_leases(fleet_engine, leases.ttl + leases.grace + leases.patience + 1)
    leases.register("m2", advertise_url="http://m2", capacity=5, pid=2)
    assert [x.epoch for x in leases.claim("m2", capacity=5, batch=5)] == [lease.epoch + 1]
    # m1 wakes up still believing it holds the session: the transaction is refused.
    recorded, failed = store.record([_starting(sid)])
    assert (recorded, failed) == (0, 1)
    assert _state(fleet_engine, sid) == ("stopped", [])
    # Once it knows, nothing is even attempted.
    epochs.clear()
    assert store.record([_starting(sid)]) == (0, 0)
    assert _state(fleet_engine, sid) == ("stopped", [])
