"""fleet: take-over after kill -9 of a member, and hand-over per session on a drain.

On a PostgreSQL database of its own (created next to `fleet_database_url`,
else on 127.0.0.1:5432), member m1 links N sessions through real QR scans
(N = 50, 6 with --quick) and ships their snapshots; m2 joins. Then m1 is
killed with SIGKILL and the clock runs until every session is `connected`
on m2 (target: within lease_ttl + 15 s, no QR, no conflict). Then m3 joins
and m2 is drained: the clock runs until every session is connected on m3,
one hand-over at a time (snapshot, release, claim, restore); the figure is
that time per session.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

from sqlalchemy import func, select

from app.bench._context import BenchContext
from app.bench._fleet_members import ADMIN_URL, MemberProcess, scratch_database, start_member
from app.bench._harness import ScenarioResult, Skip
from app.config import Settings
from app.domain.models import AccountSpec
from app.fleet.fleet_key import write_fleet_key
from app.fleet.leases import LeaseStore
from app.sandbox import AsyncTestPhone
from app.store import accounts, create_engine_for, session_factory, upgrade
from app.store.fleet_models import SessionSnapshot
from app.store.models import Account

NAME = "fleet"


async def run(ctx: BenchContext, result: ScenarioResult) -> None:
    if ctx.options.quick and len(ctx.options.scenarios) > 1:
        # The smoke run of every scenario stays a few minutes: this one needs a
        # PostgreSQL database and three members' Chromium, about 90 s more.
        raise Skip("left out of a --quick run of every scenario; run --scenario fleet --quick")
    n = ctx.options.count(50, 6)
    base = ctx.options.base_settings or Settings.load(environ={})
    admin = base.fleet_database_url or ADMIN_URL
    # --quick keeps within its time limit with short leases; a full run uses the settings'.
    lease = (
        (6.0, 2.0, 1.0)
        if ctx.options.quick
        else (base.lease_ttl, base.lease_grace, base.lease_margin)
    )
    token = secrets.token_urlsafe(16)
    members: list[MemberProcess] = []
    with ctx.sandbox() as url, scratch_database(admin) as fleet_url:
        db = create_engine_for(fleet_url)
        key_file = ctx.folder("fleet-key") / f"fleet-{secrets.token_hex(4)}.key"
        write_fleet_key(key_file)
        try:
            await asyncio.to_thread(upgrade, db)
            leases = LeaseStore(db, ttl=lease[0], grace=lease[1])

            async def member(name: str) -> MemberProcess:
                m = await start_member(
                    ctx.folder(f"fleet-{name}"),
                    name,
                    fleet_url=fleet_url,
                    provider_url=url,
                    token=token,
                    capacity=n + 10,
                    key_file=key_file,
                    chromium=base.chromium,  # empty: the member picks, as in production
                    lease=lease,
                )
                members.append(m)
                return m

            m1 = await member("m1")
            sids = await asyncio.to_thread(_add_accounts, db, n)
            await _until(lambda: _owned_by(leases, sids, "m1"), 120)
            async with AsyncTestPhone(url) as phone:
                await _link_all(m1, sids, phone)
                await _until(lambda: _connected(m1, sids), 300)
                await _until(lambda: _snapshots(db) >= n, 120)
                m2 = await member("m2")
                qrs_before = await asyncio.to_thread(_qr_total, db)
                conflicts_before = (await phone.stats())["conflicts_total"]

                m1.kill()
                killed = time.perf_counter()
                await _until(lambda: _owned_by(leases, sids, "m2"), 300)
                claimed_s = time.perf_counter() - killed
                await _until(lambda: _connected(m2, sids), 300)
                takeover_s = time.perf_counter() - killed

                m3 = await member("m3")
                drained = time.perf_counter()
                await asyncio.to_thread(leases.set_draining, "m2")
                await _until(lambda: _owned_by(leases, sids, "m3"), 600)
                await _until(lambda: _connected(m3, sids), 300)
                handover_s = time.perf_counter() - drained
                qrs = await asyncio.to_thread(_qr_total, db) - qrs_before
                conflicts = (await phone.stats())["conflicts_total"] - conflicts_before
        finally:
            for m in members:
                m.kill()
            for m in members:
                await m.proc.wait()
            db.dispose()
    target = lease[0] + 15
    result.figures.update(
        sessions=n,
        lease_ttl_s=lease[0],
        lease_grace_s=lease[1],
        takeover_s=round(takeover_s, 2),
        takeover_all_claimed_s=round(claimed_s, 2),
        handover_total_s=round(handover_s, 2),
        handover_per_session_s=round(handover_s / n, 2),
        qr_during_moves=qrs,
        conflicts=conflicts,
    )
    result.row(
        f"take-over after kill -9 ({n} sessions)",
        f"{takeover_s:.1f} s",
        f"<= {target:.0f} s",
        met=takeover_s <= target,
    )
    result.row("  of which: until every lease is claimed", f"{claimed_s:.1f} s", "")
    result.row("hand-over per session (drain)", f"{handover_s / n:.2f} s", "")
    result.row("QR codes during the moves", str(qrs), "0", met=qrs == 0)
    result.row("conflicts", str(conflicts), "0", met=conflicts == 0)


def _add_accounts(db: Any, n: int) -> list[str]:
    from datetime import UTC, datetime

    with session_factory(db).begin() as session:
        specs = [AccountSpec(workspace_id=900, label=f"Fleet {i}") for i in range(n)]
        infos = accounts.create_accounts(session, specs, now=datetime.now(UTC))
    return [info.session_id for info in infos]


def _owned_by(leases: LeaseStore, sids: list[str], owner: str) -> bool:
    rows = {s: o for s, o, _, _ in leases.leases()}
    return all(rows.get(sid) == owner for sid in sids)


def _snapshots(db: Any) -> int:
    with session_factory(db)() as session:
        return int(session.scalar(select(func.count()).select_from(SessionSnapshot)) or 0)


def _qr_total(db: Any) -> int:
    with session_factory(db)() as session:
        return int(session.scalar(select(func.sum(Account.qr_count))) or 0)


async def _connected(member: MemberProcess, sids: list[str]) -> bool:
    async with member.client() as c:
        r = await c.get("api/sessions")
        if r.status_code != 200:
            return False
        body = r.json()
        rows = body if isinstance(body, list) else body.get("sessions", [])
        states = {row.get("session_id"): row.get("status") for row in rows}
    return all(states.get(sid) == "connected" for sid in sids)


async def _until(check: Any, timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while True:
            done = check()
            if asyncio.iscoroutine(done):
                done = await done
            if done:
                return
            await asyncio.sleep(0.25)


async def _link_all(member: MemberProcess, sids: list[str], phone: AsyncTestPhone) -> None:
    gate = asyncio.Semaphore(4)

    async def one(i: int, sid: str) -> None:
        async with gate, member.client() as c:
            r = await c.post(f"api/sessions/{sid}/start")
            r.raise_for_status()
            async with asyncio.timeout(120):
                while True:
                    qr = (await c.get(f"api/sessions/{sid}/status")).json().get("qr")
                    if qr:
                        break
                    await asyncio.sleep(0.2)
            await phone.scan(qr, f"62816{i:07d}")

    await asyncio.gather(*(one(i, sid) for i, sid in enumerate(sids)))
