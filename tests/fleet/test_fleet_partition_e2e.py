"""A member cut from its database stops its pages by its lease deadline, then rejoins.

The member reaches PostgreSQL through a TCP proxy the test controls (never the
shared server itself). Two sessions are linked; the proxy drops every
connection and refuses new ones for 30 s: the member closes its pages itself
while the database is unreachable (before anyone could take them over), stays
up, and once the database is back claims them again and restores them
without a QR.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from app.fleet.leases import LeaseStore
from app.sandbox import AsyncTestPhone, SandboxOptions, SandboxServer
from tests.fleet.conftest import add_accounts
from tests.fleet.fleet_support import CuttableProxy, Member, client, start_member
from tests.fleet.test_fleet_faults_e2e import (
    link_all,
    owners,
    qr_counts,
    snapshots_shipped,
    wait_for,
)


async def pages_open(member: Member) -> int:
    """Connected pages the member runs (`/health` counts its browser, not the store)."""
    async with client(member.url) as c:
        r = await c.get("health")
        return int(r.json()["sessions"]["connected"]) if r.status_code == 200 else -1


pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.timeout(300)]

CUT_SECONDS = 30.0


async def test_a_partitioned_member_closes_its_pages_then_rejoins_without_qr(
    tmp_path: Path, fleet_url: str, fleet_engine: Engine
) -> None:
    proxy = CuttableProxy(make_url(fleet_url).port or 5432)
    await proxy.start()
    via_proxy = make_url(fleet_url).set(port=proxy.port).render_as_string(hide_password=False)
    leases = LeaseStore(fleet_engine, ttl=6.0, grace=2.0)
    with SandboxServer(SandboxOptions(time_scale=0.2, boot_delay=0.1)) as sandbox:
        member = await start_member(tmp_path, "m1", fleet_url=via_proxy, sandbox_url=sandbox.url)
        try:
            add_accounts(fleet_engine, 2, prefix="cut")
            await wait_for("both claimed", lambda: set(owners(leases).values()) == {"m1"})
            async with AsyncTestPhone(sandbox.url) as phone:
                await link_all({"m1": member}, leases, phone)
                await wait_for("snapshots shipped", lambda: snapshots_shipped(fleet_engine) == 2)
                qrs_before = qr_counts(fleet_engine)

                proxy.partition()
                cut_at = asyncio.get_running_loop().time()

                async def pages_closed() -> bool:
                    return await pages_open(member) == 0

                await wait_for("pages closed while cut", pages_closed, timeout=CUT_SECONDS)
                closed_after = asyncio.get_running_loop().time() - cut_at
                assert closed_after < CUT_SECONDS
                print(f"pages closed {closed_after:.1f} s after the cut")
                await asyncio.sleep(max(0.0, CUT_SECONDS - closed_after))
                assert member.proc.returncode is None  # it stayed up
                proxy.heal()

                async def reclaimed() -> bool:
                    epochs = {(o, e) for _, o, e, _ in leases.leases()}
                    return epochs == {("m1", 2)} and await pages_open(member) == 2

                await wait_for("claimed again (epoch 2) and connected again", reclaimed)
                assert qr_counts(fleet_engine) == qrs_before
                assert (await phone.stats())["conflicts_total"] == 0
        finally:
            member.kill_everything()
            await member.proc.wait()
            await proxy.aclose()
