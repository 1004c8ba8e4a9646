"""Fleet faults on one machine: real members (processes, Chromium), one sandbox.

Two members link six sessions with the test phone. kill -9 of one: its
sessions come back connected on the other, without a QR. A third member
joins; SIGSTOP of the second past its TTL: the third takes its sessions over,
the watchdog has already closed the frozen member's browser, and after SIGCONT
the frozen member writes nothing about them (fenced) and exits for a restart.
It rejoins and receives its share (rebalancing), then draining the third
hands every session over to it, no QR.
Throughout, the sandbox counts no conflict (two pages of one account) and no
webhook reaches the platform twice.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from app.fleet.leases import LeaseStore
from app.fleet.rendezvous import first_choice
from app.sandbox import AsyncTestPhone, SandboxOptions, SandboxServer
from app.sandbox.central import CentralServer
from app.store import session_factory
from app.store.fleet_models import SessionSnapshot
from app.store.models import Account
from tests.fleet.conftest import add_accounts
from tests.fleet.fleet_support import SECRET, Member, client, start_member

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.timeout(600)]

SESSIONS = 6
TTL = 6.0
GUARD = 90.0  # a failure guard only; the bench measures take-over times


def phone_number(i: int) -> str:
    return f"628140000{i:04d}"


async def wait_for(what: str, check, timeout: float = GUARD) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > end:
            raise AssertionError(f"gave up waiting for: {what}")
        await asyncio.sleep(0.25)


def owners(leases: LeaseStore) -> dict[str, str | None]:
    return {sid: owner for sid, owner, _, _ in leases.leases()}


async def status(member: Member, sid: str) -> dict[str, object]:
    async with client(member.url) as c:
        r = await c.get(f"api/sessions/{sid}/status")
        return dict(r.json()) if r.status_code == 200 else {}


async def connected_on(member: Member, sids: list[str]) -> bool:
    for sid in sids:
        if (await status(member, sid)).get("status") != "connected":
            return False
    return True


async def link_all(members: dict[str, Member], leases: LeaseStore, phone: AsyncTestPhone) -> None:
    for i, (sid, owner) in enumerate(sorted(owners(leases).items())):
        assert owner is not None
        member = members[owner]
        async with client(member.url) as c:
            r = await c.post(f"api/sessions/{sid}/start")
            assert r.status_code == 200, r.text
        qr: list[str] = []

        async def has_qr(m: Member = member, s: str = sid, box: list[str] = qr) -> bool:
            found = (await status(m, s)).get("qr")
            if isinstance(found, str) and found:
                box.append(found)
            return bool(box)

        await wait_for(f"a QR for {sid}", has_qr)
        await phone.scan(qr[0], phone_number(i))
    for name, member in members.items():
        mine = [s for s, o in owners(leases).items() if o == name]
        await wait_for(f"{name}'s sessions connected", lambda m=member, s=mine: connected_on(m, s))


def snapshots_shipped(engine: Engine) -> int:
    with session_factory(engine)() as session:
        return len(session.scalars(select(SessionSnapshot.session_id)).all())


def qr_counts(engine: Engine) -> dict[str, int]:
    with session_factory(engine)() as session:
        return {a.session_id: a.qr_count for a in session.scalars(select(Account))}


async def test_kill_and_freeze_members_sessions_move_without_qr_or_conflict(
    tmp_path: Path, fleet_url: str, fleet_engine: Engine
) -> None:
    leases = LeaseStore(fleet_engine, ttl=TTL, grace=2.0)
    members: dict[str, Member] = {}
    options = SandboxOptions(time_scale=0.2, boot_delay=0.1)
    with SandboxServer(options) as sandbox, CentralServer(SECRET) as central:
        phone = AsyncTestPhone(sandbox.url)
        try:
            for name in ("m1", "m2"):
                members[name] = await start_member(
                    tmp_path,
                    name,
                    fleet_url=fleet_url,
                    sandbox_url=sandbox.url,
                    central_url=central.url,
                    ttl=TTL,
                )
            await wait_for("both members alive", lambda: len(leases.members()) == 2)
            sids = add_accounts(fleet_engine, SESSIONS, prefix="fleet")
            await wait_for(
                "every session claimed",
                lambda: len(owners(leases)) == SESSIONS and None not in owners(leases).values(),
            )
            await link_all(members, leases, phone)
            await wait_for("every snapshot shipped", lambda: snapshots_shipped(fleet_engine) == 6)
            qrs_before = qr_counts(fleet_engine)

            # kill -9 of one: its sessions come back on the other, from the shared snapshots.
            dead = owners(leases)[sids[0]]
            assert dead is not None
            alive = "m2" if dead == "m1" else "m1"
            victim = [s for s, o in owners(leases).items() if o == dead]
            members[dead].kill_everything()
            killed_at = time.monotonic()
            await wait_for(
                f"{dead}'s sessions connected on {alive}",
                lambda: (
                    owners(leases) == dict.fromkeys(sids, alive)
                    and connected_on(members[alive], victim)
                ),
            )
            print(f"take-over after kill -9: {time.monotonic() - killed_at:.1f} s")
            assert qr_counts(fleet_engine) == qrs_before  # no QR was shown
            assert (await phone.stats())["conflicts_total"] == 0

            # SIGSTOP of the survivor past its TTL: m3 takes over; its browser is already gone.
            members["m3"] = await start_member(
                tmp_path,
                "m3",
                fleet_url=fleet_url,
                sandbox_url=sandbox.url,
                central_url=central.url,
                ttl=TTL,
            )
            frozen = members[alive]
            frozen.remember_tree()
            assert frozen.browsers_alive()
            os.kill(frozen.proc.pid, signal.SIGSTOP)
            await wait_for(
                "m2's browser killed by its watchdog", lambda: not frozen.browsers_alive()
            )
            await wait_for(
                "every session connected on m3",
                lambda: (
                    owners(leases) == dict.fromkeys(sids, "m3")
                    and connected_on(members["m3"], sids)
                ),
            )
            os.kill(frozen.proc.pid, signal.SIGCONT)
            async with asyncio.timeout(GUARD):
                code = await frozen.proc.wait()
            assert code == 75  # fenced: it exits so its supervisor restarts it
            with session_factory(fleet_engine)() as session:
                rows = session.scalars(select(Account)).all()
                assert {(a.instance_id, a.state) for a in rows} == {("m3", "connected")}
            assert qr_counts(fleet_engine) == qrs_before
            assert (await phone.stats())["conflicts_total"] == 0
            # The frozen member rejoins (its supervisor restarts it); m3 is drained onto it:
            # one hand-over at a time (snapshot, release, claim, restore), no QR.
            members["back"] = await start_member(
                tmp_path,
                alive,
                fleet_url=fleet_url,
                sandbox_url=sandbox.url,
                central_url=central.url,
                ttl=TTL,
            )
            # Rebalancing: m3, above its fair share, hands the rejoined member the
            # connected sessions whose first choice it is, a few per round.
            theirs = [s for s in sids if first_choice(s, ["m3", alive]) == alive]
            expected = min(len(sids) // 2, len(theirs))
            await wait_for(
                "the rejoined member's share moved to it",
                lambda: (
                    sum(1 for o in owners(leases).values() if o == alive) == expected
                    and connected_on(members["back"], theirs[:expected])
                ),
            )
            assert qr_counts(fleet_engine) == qrs_before
            assert leases.set_draining("m3")
            await wait_for(
                "every session handed over from m3",
                lambda: (
                    owners(leases) == dict.fromkeys(sids, alive)
                    and connected_on(members["back"], sids)
                ),
            )
            assert qr_counts(fleet_engine) == qrs_before
            assert (await phone.stats())["conflicts_total"] == 0

            # Webhooks: each from the owner of the moment, none delivered twice.
            await wait_for(
                "the last ready webhooks, from the rejoined member",
                lambda: all(
                    e.instance_url == members["back"].url
                    for e in central.state.events(event="session_ready")[-SESSIONS:]
                ),
            )
            events = central.state.events()
            assert not [e for e in events if e.duplicate]
            urls = {e.instance_url for e in events}
            assert urls <= {m.url for m in members.values()} and members["m3"].url in urls
            assert members["back"].url in urls
        finally:
            await phone.aclose()
            for member in members.values():
                member.kill_everything()
            for member in members.values():
                await member.proc.wait()
