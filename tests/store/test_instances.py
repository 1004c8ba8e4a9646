"""Instances repository: registration, restarts, load samples, liveness."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from app.domain.events import InstanceLoad
from app.domain.models import AccountSpec
from app.store import InstanceNotFound, accounts, instances


def _register(session: Session, now: datetime, iid: str = "i0", index: int = 0, **kw: object):  # type: ignore[no-untyped-def]
    return instances.upsert_instance(
        session,
        instance_id=iid,
        index=index,
        url=f"http://127.0.0.1:{8000 + index}/",
        pid=1000 + index,
        started_at=now,
        capacity=50,
        **kw,  # type: ignore[arg-type]
    )


def test_register_and_restart(session: Session, now: datetime) -> None:
    info = _register(session, now)
    assert info.alive and info.restarts == 0 and info.capacity == 50
    later = now + timedelta(minutes=1)
    instances.upsert_instance(
        session,
        instance_id="i0",
        index=0,
        url="http://127.0.0.1:9000/",
        pid=2000,
        started_at=later,
        capacity=50,
        restarted=True,
    )
    session.commit()
    info = instances.get_instance(session, "i0", now=later)
    assert (info.pid, info.url, info.restarts) == (2000, "http://127.0.0.1:9000/", 1)
    assert info.restart_history == (later,) and info.started_at == later


def test_index_clash(session: Session, now: datetime) -> None:
    _register(session, now, "i0", 0)
    with pytest.raises(ValueError, match="index 0 is already registered as 'i0'"):
        _register(session, now, "other", 0)


def test_load_and_liveness(session: Session, now: datetime) -> None:
    _register(session, now, "i0", 0)
    _register(session, now, "i1", 1)
    at = now + timedelta(seconds=10)
    instances.record_instance_load(
        session,
        InstanceLoad(
            instance_id="i0",
            cpu_percent=37.5,
            memory_bytes=512 * 2**20,
            sessions_total=12,
            sessions_connected=10,
            at=at,
        ),
    )
    instances.mark_instance_stopped(session, "i1", at=at)
    session.commit()
    i0, i1 = instances.list_instances(session, now=at + timedelta(seconds=5))
    assert i0.alive and i0.cpu_percent == 37.5 and i0.memory_bytes == 512 * 2**20
    assert (i0.sessions_total, i0.sessions_connected) == (12, 10)
    assert not i1.alive  # stopped on purpose
    stale = instances.list_instances(session, now=at + timedelta(minutes=5))
    assert not stale[0].alive  # no heartbeat for too long: down
    assert not instances.list_instances(session)[0].alive  # unknown without a clock
    with pytest.raises(InstanceNotFound):
        instances.record_instance_load(session, InstanceLoad(instance_id="nope", at=at))
    with pytest.raises(InstanceNotFound):
        instances.mark_instance_stopped(session, "nope", at=at)
    assert instances.find_instance(session, "nope") is None


def test_remove_unassigns_sessions(session: Session, now: datetime) -> None:
    _register(session, now)
    accounts.create_account(session, AccountSpec(workspace_id=1, session_id="s"), now=now)
    accounts.assign_instance(session, "s", "i0")
    assert instances.remove_instance(session, "i0") == 1
    session.commit()
    assert instances.list_instances(session) == []
    assert accounts.get_account(session, "s").instance_id == ""
