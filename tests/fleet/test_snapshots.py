"""Shared snapshots: the fleet database, and S3 (a local moto server), both fenced."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer
from sqlalchemy import Engine, select

from app.engine.vault import SealedUnreadable
from app.fleet.fleet_key import FleetCipher
from app.fleet.leases import LeaseStore, StaleEpoch
from app.fleet.s3 import S3Snapshots, parse_location
from app.fleet.snapshots import DatabaseSnapshots, SnapshotStore
from app.store import session_factory
from app.store.fleet_models import SessionSnapshot
from tests.fleet.conftest import add_accounts, age_leases

pytestmark = pytest.mark.postgres

# moto keeps its buckets per process: each test module run uses a bucket of its own.
BUCKET = f"pairdesk-snapshots-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def s3_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        client = boto3.client("s3", endpoint_url=f"http://{host}:{port}")
        client.create_bucket(Bucket=BUCKET)
        yield client
        for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
            client.delete_object(Bucket=BUCKET, Key=item["Key"])
        client.delete_bucket(Bucket=BUCKET)
    finally:
        server.stop()


KEY = FleetCipher(bytes(range(32)))
# What a real snapshot holds: Playwright's storage state with IndexedDB.
STATE = b'{"cookies": [], "origins": [{"origin": "https://web.whatsapp.com", "indexedDB": []}]}'


def _held(leases: LeaseStore, engine: Engine, name: str = "m1") -> tuple[str, int]:
    (sid,) = add_accounts(engine, 1)
    leases.register(name, advertise_url="http://m1", capacity=10, pid=1)
    (lease,) = leases.claim(name, capacity=10, batch=10)
    return sid, lease.epoch


def _stores(
    leases: LeaseStore, s3_client: object | None, cipher: FleetCipher = KEY
) -> SnapshotStore:
    if s3_client is None:
        return DatabaseSnapshots(leases, cipher=cipher)
    return S3Snapshots(s3_client, BUCKET, "fleet/a", leases, cipher=cipher)


def _stored(engine: Engine, client: object | None) -> bytes:
    """The bytes shared storage holds for the one snapshot: the row, or the S3 object."""
    with session_factory(engine)() as session:
        row = session.scalars(select(SessionSnapshot)).one()
    if client is None:
        assert row.data is not None
        return bytes(row.data)
    bucket, key = parse_location(row.location)
    return bytes(client.get_object(Bucket=bucket, Key=key)["Body"].read())  # type: ignore[attr-defined]


@pytest.fixture(params=["database", "s3"])
def store(
    request: pytest.FixtureRequest, leases: LeaseStore
) -> tuple[SnapshotStore, object | None]:
    client = request.getfixturevalue("s3_client") if request.param == "s3" else None
    return _stores(leases, client), client


def test_put_then_get_round_trips_through_the_cipher(
    store: tuple[SnapshotStore, object | None], leases: LeaseStore, fleet_engine: Engine
) -> None:
    snapshots, client = store
    sid, epoch = _held(leases, fleet_engine)
    assert snapshots.get(sid) is None
    snapshots.put(sid, "m1", epoch, b'{"cookies": []}')
    snapshots.put(sid, "m1", epoch, b'{"cookies": [1]}')
    assert snapshots.get(sid) == b'{"cookies": [1]}'
    with session_factory(fleet_engine)() as session:
        row = session.scalars(select(SessionSnapshot)).one()
    assert row.epoch == epoch
    if client is None:
        assert KEY.open(row.data, session_id=sid) == b'{"cookies": [1]}'  # stored sealed
    else:
        assert row.data is None and row.location.startswith(f"s3://{BUCKET}/fleet/a/{sid}/")
        listed = client.list_objects_v2(Bucket=BUCKET)["Contents"]  # type: ignore[attr-defined]
        assert [o["Key"] for o in listed] == [parse_location(row.location)[1]]  # old one gone


def test_a_fenced_member_cannot_move_the_pointer(
    store: tuple[SnapshotStore, object | None], leases: LeaseStore, fleet_engine: Engine
) -> None:
    snapshots, client = store
    sid, epoch = _held(leases, fleet_engine)
    snapshots.put(sid, "m1", epoch, b"good")
    leases.release("m1")
    age_leases(fleet_engine, leases.patience + 1)
    leases.register("m2", advertise_url="http://m2", capacity=10, pid=2)
    (taken,) = leases.claim("m2", capacity=10, batch=10)
    with pytest.raises(StaleEpoch):
        snapshots.put(sid, "m1", epoch, b"stale")
    assert snapshots.get(sid) == b"good"
    snapshots.put(sid, "m2", taken.epoch, b"newer")
    assert snapshots.get(sid) == b"newer"
    if client is not None:
        listed = client.list_objects_v2(Bucket=BUCKET)["Contents"]  # type: ignore[attr-defined]
        assert len(listed) == 1  # the fenced upload was deleted again


def test_shared_storage_never_holds_the_login_in_clear(
    store: tuple[SnapshotStore, object | None], leases: LeaseStore, fleet_engine: Engine
) -> None:
    snapshots, client = store
    sid, epoch = _held(leases, fleet_engine)
    snapshots.put(sid, "m1", epoch, STATE)
    stored = _stored(fleet_engine, client)
    assert b"indexedDB" not in stored and b"cookies" not in stored and b"whatsapp" not in stored
    assert snapshots.get(sid) == STATE
    # Bound to its session: the same bytes do not open as another session's.
    with pytest.raises(SealedUnreadable):
        KEY.open(stored, session_id=sid + "x")


def test_a_member_with_another_key_cannot_restore(
    store: tuple[SnapshotStore, object | None], leases: LeaseStore, fleet_engine: Engine
) -> None:
    snapshots, client = store
    sid, epoch = _held(leases, fleet_engine)
    snapshots.put(sid, "m1", epoch, STATE)
    other = _stores(leases, client, FleetCipher(bytes(32)))
    with pytest.raises(SealedUnreadable):
        other.get(sid)
