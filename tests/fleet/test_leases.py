"""Leases with fencing on a PostgreSQL database of the test's own."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine, text

from app.fleet.leases import LeaseStore, StaleEpoch
from app.fleet.rendezvous import first_choice
from tests.fleet.conftest import GRACE, TTL, add_accounts, age_leases

pytestmark = pytest.mark.postgres


def _register(leases: LeaseStore, *names: str, capacity: int = 100) -> None:
    for name in names:
        leases.register(name, advertise_url=f"http://{name}", capacity=capacity, pid=1)


def test_claim_takes_unowned_sessions_within_capacity_and_batch(
    leases: LeaseStore, fleet_engine: Engine
) -> None:
    add_accounts(fleet_engine, 10)
    _register(leases, "m1", capacity=7)
    first = leases.claim("m1", capacity=7, batch=4)
    assert len(first) == 4 and all(lease.epoch == 1 for lease in first)
    second = leases.claim("m1", capacity=7, batch=4)
    assert len(second) == 3  # capacity 7, 4 already held
    assert leases.claim("m1", capacity=7, batch=4) == []
    held = {sid for sid, owner, _, _ in leases.leases() if owner == "m1"}
    assert held == {lease.session_id for lease in first + second}


def test_first_choice_claims_at_once_others_wait_one_renewal_period(
    leases: LeaseStore, fleet_engine: Engine
) -> None:
    ids = add_accounts(fleet_engine, 20)
    _register(leases, "m1", "m2")
    mine = {sid for sid in ids if first_choice(sid, ["m1", "m2"]) == "m1"}
    assert 0 < len(mine) < len(ids)
    taken = {lease.session_id for lease in leases.claim("m1", capacity=100, batch=100)}
    assert taken == mine
    # One renewal period later the sessions m2 did not take are m1's to take.
    age_leases(fleet_engine, leases.patience + 0.5)
    rest = {lease.session_id for lease in leases.claim("m1", capacity=100, batch=100)}
    assert rest == set(ids) - mine


def test_renew_extends_held_leases_in_one_statement_and_never_revives_expired(
    leases: LeaseStore, fleet_engine: Engine
) -> None:
    ids = add_accounts(fleet_engine, 3)
    _register(leases, "m1")
    claimed = leases.claim("m1", capacity=10, batch=10)
    assert len(claimed) == 3
    renewed = leases.renew("m1")
    assert {lease.session_id for lease in renewed} == set(ids)
    assert all(
        new.expires_at >= old.expires_at
        for new, old in zip(
            sorted(renewed, key=lambda x: x.session_id),
            sorted(claimed, key=lambda x: x.session_id),
            strict=True,
        )
    )
    age_leases(fleet_engine, TTL + 1, [ids[0]])  # that one expired before this renewal
    assert {lease.session_id for lease in leases.renew("m1")} == set(ids[1:])


def test_take_over_only_after_ttl_plus_grace_and_bumps_the_epoch(
    leases: LeaseStore, fleet_engine: Engine
) -> None:
    (sid,) = add_accounts(fleet_engine, 1)
    _register(leases, "m1", "m2")
    owner = first_choice(sid, ["m1", "m2"])
    other = "m2" if owner == "m1" else "m1"
    (lease,) = leases.claim(owner, capacity=10, batch=10)
    assert lease.epoch == 1
    age_leases(fleet_engine, TTL + GRACE / 2)  # expired, but within the grace
    assert leases.claim(other, capacity=10, batch=10) == []
    age_leases(fleet_engine, GRACE + leases.patience)  # past grace and the other's patience
    (taken,) = leases.claim(other, capacity=10, batch=10)
    assert (taken.owner, taken.epoch) == (other, 2)
    assert leases.renew(owner) == []  # the old owner learns it lost the session


def test_fenced_write_is_refused_when_the_epoch_is_stale(
    leases: LeaseStore, fleet_engine: Engine
) -> None:
    (sid,) = add_accounts(fleet_engine, 1)
    _register(leases, "m1", "m2")
    (lease,) = leases.claim("m1", capacity=10, batch=10)
    with leases.sessions.begin() as session:
        LeaseStore.fence(session, sid, "m1", lease.epoch)  # current: passes
    assert leases.release("m1") == 1
    with pytest.raises(StaleEpoch), leases.sessions.begin() as session:
        LeaseStore.fence(session, sid, "m1", lease.epoch)
    age_leases(fleet_engine, leases.patience + 1)
    (taken,) = leases.claim("m2", capacity=10, batch=10)
    assert taken.epoch == lease.epoch + 1
    with pytest.raises(StaleEpoch), leases.sessions.begin() as session:
        LeaseStore.fence(session, sid, "m1", lease.epoch)
    with leases.sessions.begin() as session:
        LeaseStore.fence(session, sid, "m2", taken.epoch)


def test_concurrent_claims_never_take_the_same_session(
    fleet_url: str, fleet_engine: Engine
) -> None:
    ids = add_accounts(fleet_engine, 60)
    names = ["m1", "m2", "m3"]
    stores = {name: LeaseStore(fleet_engine, ttl=TTL, grace=GRACE) for name in names}
    for name, store in stores.items():
        _register(store, name)
    age_leases(fleet_engine, 60)  # every session claimable by anyone, preference aside
    results: dict[str, list[str]] = {}
    barrier = threading.Barrier(len(names))

    def run(name: str) -> None:
        barrier.wait()
        got: list[str] = []
        for _ in range(20):
            got += [lease.session_id for lease in stores[name].claim(name, capacity=60, batch=3)]
        results[name] = got

    threads = [threading.Thread(target=run, args=(name,)) for name in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    claimed = [sid for got in results.values() for sid in got]
    assert sorted(claimed) == sorted(ids)  # all taken, none twice
    with fleet_engine.connect() as conn:
        assert conn.scalar(text("SELECT max(epoch) FROM session_leases")) == 1


def test_a_draining_member_claims_nothing(leases: LeaseStore, fleet_engine: Engine) -> None:
    add_accounts(fleet_engine, 5)
    _register(leases, "m1")
    assert leases.set_draining("m1")
    age_leases(fleet_engine, 60)
    assert leases.claim("m1", capacity=10, batch=10) == []
    members = {m.name: m for m in leases.members()}
    assert members["m1"].draining and members["m1"].alive


def test_members_report_alive_and_sessions_held(leases: LeaseStore, fleet_engine: Engine) -> None:
    add_accounts(fleet_engine, 4)
    _register(leases, "m1", "m2")
    age_leases(fleet_engine, 60)
    leases.claim("m1", capacity=3, batch=10)
    leases.unregister("m2")
    members = {m.name: m for m in leases.members()}
    assert (members["m1"].alive, members["m1"].sessions) == (True, 3)
    assert (members["m2"].alive, members["m2"].sessions) == (False, 0)


def test_a_member_knows_when_a_lapsing_lease_becomes_claimable(
    leases: LeaseStore, fleet_engine: Engine
) -> None:
    (sid,) = add_accounts(fleet_engine, 1)
    _register(leases, "m1", "m2")
    assert leases.seconds_until_claimable("m2") is None  # nobody holds anything
    owner = first_choice(sid, ["m1", "m2"])
    other = "m2" if owner == "m1" else "m1"
    leases.claim(owner, capacity=10, batch=10)
    assert leases.seconds_until_claimable(owner) is None  # its own lease does not count
    fresh = leases.seconds_until_claimable(other)
    assert fresh is not None and GRACE < fresh <= TTL + GRACE  # a renewed lease: far off
    age_leases(fleet_engine, TTL + GRACE / 2)  # its member stopped renewing
    lapsing = leases.seconds_until_claimable(other)
    assert lapsing is not None and lapsing <= GRACE / 2
    age_leases(fleet_engine, GRACE)
    assert leases.seconds_until_claimable(other) == 0.0  # claimable now, not negative
