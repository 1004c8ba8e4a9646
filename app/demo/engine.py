"""`DemoEngine`: a scripted, in-memory stand-in for the engine, for demos and screenshots.

It satisfies `app.engine.api.Engine` and produces realistic traffic — a
fleet of mostly connected sessions with heartbeats, instance load with ten
minutes of history, QR refs that expire and refresh, scans that link after a
few seconds, the odd disconnect — without Chromium, a database or a network.
It is a DEMO: nothing it shows is real. The console uses it when
no engine factory is given, or with `--demo-engine`.
"""

from __future__ import annotations

import asyncio
import base64
import random
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from app.demo.data import LABELS, demo_doctor, demo_log, demo_outbox
from app.domain.events import (
    EngineEvent,
    InstanceLoad,
    PairingCodeIssued,
    QrIssued,
    SessionHeartbeat,
    SessionReady,
    SessionStateChanged,
    SyncStatus,
    utcnow,
)
from app.domain.models import AccountSpec, InstanceInfo, SessionInfo, TimelineEntry
from app.domain.outbox import OutboxItem, OutboxState
from app.domain.proxy import InvalidProxy, parse_proxy
from app.domain.states import Reason, SessionState
from app.engine.api import WARM_UP_SECONDS, DoctorCheck, Engine, EngineError

S = SessionState
FIRST_REF_S = 60.0
NEXT_REF_S = 20.0
RENEW_CODE_S = 180.0
PAIRING_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTVWXYZ"


def fake_qr(rng: random.Random) -> str:
    """A string shaped like a WhatsApp Web login ref (four comma-separated parts)."""

    def b64(n: int) -> str:
        return base64.b64encode(rng.randbytes(n)).decode()

    return f"2@{b64(48)},{b64(32)},{b64(32)},{b64(16)}"


class DemoEngine:
    """Scripted demo engine (see module docstring). Not for production use."""

    def __init__(self, *, fleet: int = 60, instances: int = 3, seed: int = 7) -> None:
        self.provider_url = ""  # a demo: no login page, no central API
        self.central_url = ""
        self.sandbox_url = ""
        self._rng = random.Random(seed)
        self._fleet = fleet
        self._n_instances = instances
        self._sessions: dict[str, SessionInfo] = {}
        self._instances: dict[str, InstanceInfo] = {}
        self._timelines: dict[str, list[TimelineEntry]] = {}
        self._scan_at: dict[str, datetime] = {}
        self._queues: list[asyncio.Queue[EngineEvent]] = []
        self._task: asyncio.Task[None] | None = None
        self._cpu: dict[str, float] = {}
        self._outbox = demo_outbox()

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        now = utcnow()
        for i in range(1, self._n_instances + 1):
            iid = f"i-{i}"
            self._instances[iid] = InstanceInfo(
                instance_id=iid,
                index=i,
                url=f"http://127.0.0.1:{8700 + i}/",
                pid=4100 + i * 7,
                alive=True,
                started_at=now - timedelta(hours=3 + i, minutes=12 * i),
                restarts=1 if i == 2 else 0,
                capacity=50,
            )
            self._cpu[iid] = 18.0 + 14 * i
        for n in range(self._fleet):
            self._make_fleet_session(n, now)
        self._backfill_load(now)
        self._task = asyncio.create_task(self._run())

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        for q in self._queues:
            q.put_nowait(_CLOSE)

    def subscribe(self) -> AsyncIterator[EngineEvent]:
        queue: asyncio.Queue[EngineEvent] = asyncio.Queue()
        self._queues.append(queue)
        return self._iterate(queue)

    async def _iterate(self, queue: asyncio.Queue[EngineEvent]) -> AsyncIterator[EngineEvent]:
        while True:
            event = await queue.get()
            if event is _CLOSE:
                return
            yield event

    def _emit(self, event: EngineEvent) -> None:
        for q in self._queues:
            q.put_nowait(event)

    # ------------------------------------------------------------- accounts

    async def add_accounts(
        self, specs: Sequence[AccountSpec], *, start: bool = True
    ) -> list[SessionInfo]:
        now = utcnow()
        out = []
        for k, spec in enumerate(specs):
            sid = spec.session_id or f"webjs_{spec.workspace_id}_{int(now.timestamp())}_{k:08d}"
            info = SessionInfo(
                session_id=sid,
                workspace_id=spec.workspace_id,
                label=spec.label,
                phone_number=spec.phone_number,
                instance_id=self._place(),
                state=S.STARTING if start else S.STOPPED,
                created_at=now,
            )
            self._sessions[sid] = info
            out.append(info)
            if not start:
                continue
            self._move(sid, S.STARTING, now, detail="placed")
            # Stagger the refs as if the accounts had been waiting a while, so
            # the wall shows every countdown colour; the first two link quickly.
            age = (k * 17.0) % 55.0
            self._issue_qr(sid, now - timedelta(seconds=age), FIRST_REF_S)
            delay = 1.0 + k * 0.4 if k < 2 else self._rng.uniform(25, 90)
            self._scan_at[sid] = now + timedelta(seconds=delay)
        return out

    async def start_session(self, session_id: str) -> None:
        self._move(session_id, S.STARTING, utcnow(), Reason.USER_INITIATED)
        self._issue_qr(session_id, utcnow(), FIRST_REF_S)

    async def stop_session(self, session_id: str) -> None:
        self._move(session_id, S.STOPPED, utcnow(), Reason.USER_INITIATED)

    async def restart_session(self, session_id: str) -> None:
        self._move(session_id, S.STARTING, utcnow(), Reason.USER_INITIATED)
        self._move(session_id, S.CONNECTED, utcnow(), detail="restored, no QR")

    async def logout_session(self, session_id: str) -> None:
        self._move(session_id, S.LOGGED_OUT, utcnow(), Reason.USER_INITIATED)

    async def regenerate_qr(self, session_id: str) -> None:
        info = self._sessions[session_id]
        self._sessions[session_id] = replace(info, pairing_code="", pairing_phone="")
        self._issue_qr(session_id, utcnow(), FIRST_REF_S, regen=True)

    async def request_pairing_code(self, session_id: str, phone: str) -> None:
        info = self._sessions[session_id]
        if not info.state.waiting_for_scan:
            self._issue_qr(session_id, utcnow(), FIRST_REF_S)
            info = self._sessions[session_id]
        now = utcnow()
        code = "".join(self._rng.choice(PAIRING_ALPHABET) for _ in range(8))
        expires = now + timedelta(seconds=RENEW_CODE_S)
        count = 1 if not info.pairing_code else 2
        self._sessions[session_id] = replace(
            info, qr="", pairing_code=code, pairing_phone=phone, pairing_code_expires_at=expires
        )
        self._emit(
            PairingCodeIssued(
                at=now,
                session_id=session_id,
                workspace_id=info.workspace_id,
                code=code,
                phone=phone,
                expires_at=expires,
                code_count=count,
                instance_id=info.instance_id,
            )
        )
        self._scan_at.setdefault(session_id, now + timedelta(seconds=self._rng.uniform(20, 60)))

    async def open_window(self, session_id: str) -> None:
        info = self._sessions[session_id]
        if info.state is not S.PASSKEY_REQUIRED:
            raise EngineError(f"{session_id} is not waiting for its passkey")
        self._scan_at[session_id] = utcnow() + timedelta(seconds=3)

    async def warm_up(self, pages: int, *, seconds: float = WARM_UP_SECONDS) -> None:
        """Nothing to do: every demo QR shows at once, there are no pages to boot."""

    async def set_proxy(self, session_id: str, proxy: str) -> SessionInfo:
        try:
            shown = parse_proxy(proxy).display if proxy.strip() else ""
        except InvalidProxy as exc:
            raise EngineError(str(exc)) from None
        self._sessions[session_id] = replace(self._sessions[session_id], proxy=shown)
        return self._sessions[session_id]

    async def remove_account(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)

    async def list_sessions(self) -> list[SessionInfo]:
        return list(self._sessions.values())

    async def list_instances(self) -> list[InstanceInfo]:
        return list(self._instances.values())

    async def restart_instance(self, instance_id: str) -> None:
        info = self._instances[instance_id]
        self._instances[instance_id] = replace(
            info, restarts=info.restarts + 1, started_at=utcnow()
        )

    async def add_instance(self) -> InstanceInfo:
        i = len(self._instances) + 1
        info = InstanceInfo(
            instance_id=f"i-{i}", index=i, alive=True, started_at=utcnow(), capacity=50
        )
        self._instances[info.instance_id] = info
        self._cpu[info.instance_id] = 3.0
        return info

    # -------------------------------------------------------- diagnostics API

    async def session_timeline(self, session_id: str) -> list[TimelineEntry]:
        return list(self._timelines.get(session_id, []))

    async def list_outbox(self, state: str = "") -> list[OutboxItem]:
        return [o for o in self._outbox if not state or o.state == state]

    async def retry_outbox(self, event_ids: Sequence[str] = ()) -> int:
        wanted = {str(i) for i in event_ids}
        dead = [
            o
            for o in self._outbox
            if o.state == "dead" and (not wanted or str(o.event_id) in wanted)
        ]
        self._outbox = [
            replace(o, state=OutboxState.PENDING, attempts=0) if o in dead else o
            for o in self._outbox
        ]
        return len(dead)

    async def instance_log(self, instance_id: str, lines: int = 200) -> list[str]:
        return demo_log(instance_id, lines)

    async def doctor(self) -> list[DoctorCheck]:
        return demo_doctor()

    async def demo_scan(self, qr: str, phone: str) -> None:
        """What the sandbox test phone does: link the session whose current ref is `qr`."""
        for sid, info in self._sessions.items():
            if info.qr == qr and info.state.waiting_for_scan:
                self._scan_at[sid] = utcnow()
                return
        raise ValueError("That QR is no longer current; wait for the next one.")

    # ------------------------------------------------------------ simulation

    def _place(self) -> str:
        return min(self._instances, key=lambda i: self._count(i))

    def _count(self, iid: str) -> int:
        return sum(1 for s in self._sessions.values() if s.instance_id == iid)

    def _make_fleet_session(self, n: int, now: datetime) -> None:
        ws = 100 + (n * 37) % 900
        sid = f"webjs_{ws}_{1732700000 + n * 613}_{self._rng.getrandbits(32):08x}"
        state = S.CONNECTED
        roll = n % 23
        reason = None
        if roll == 5:
            state = S.DISCONNECTED
        elif roll == 11:
            state = S.LOGGED_OUT
        elif roll == 14:
            state, reason = S.PASSKEY_REQUIRED, Reason.PASSKEY_REQUIRED
        elif roll == 17:
            state = S.FAILED
        elif roll == 8 and n >= 23:
            state, reason = S.FAILED, Reason.TOS_BLOCK
        elif roll == 20:
            state = S.STOPPED
        phone = f"628{self._rng.randrange(10**9, 10**10)}"
        connected = now - timedelta(minutes=self._rng.uniform(3, 60 * 30))
        iid = f"i-{n % self._n_instances + 1}"
        self._sessions[sid] = SessionInfo(
            session_id=sid,
            workspace_id=ws,
            label=LABELS[n % len(LABELS)],
            state=state,
            reason=reason or _REASONS.get(state),
            phone_number=phone,
            instance_id=iid,
            proxy=f"http://agent{n % 4}@proxy.example.net:3128" if n % 3 == 0 else "",
            connected_at=connected if state is S.CONNECTED else None,
            last_heartbeat_at=now - timedelta(seconds=self._rng.uniform(0, 5)),
            restarts=1 if n % 9 == 0 else 0,
            memory_bytes=int(self._rng.uniform(38, 71) * 2**20),
        )
        self._timelines[sid] = [
            TimelineEntry(
                session_id=sid,
                state=S.STARTING,
                previous=S.STOPPED,
                reason=None,
                at=connected - timedelta(seconds=21),
                detail=f"instance {iid}",
            ),
            TimelineEntry(
                session_id=sid,
                state=S.QR,
                previous=S.STARTING,
                reason=None,
                at=connected - timedelta(seconds=20.9),
                detail="ref 1/6, via modules",
            ),
            TimelineEntry(
                session_id=sid,
                state=S.PAIRING,
                previous=S.QR,
                reason=None,
                at=connected - timedelta(seconds=2.1),
                detail="scanned",
            ),
            TimelineEntry(
                session_id=sid,
                state=S.CONNECTED,
                previous=S.PAIRING,
                reason=None,
                at=connected,
                detail=f"+{phone}",
            ),
        ]

    def _backfill_load(self, now: datetime) -> None:
        for iid in self._instances:
            for k in range(60, 0, -1):
                self._emit(self._load(iid, now - timedelta(seconds=10 * k)))

    def _load(self, iid: str, at: datetime) -> InstanceLoad:
        cpu = self._cpu[iid] = max(2.0, min(97.0, self._cpu[iid] + self._rng.gauss(0, 4)))
        info = self._instances[iid]
        total = self._count(iid)
        connected = sum(
            1 for s in self._sessions.values() if s.instance_id == iid and s.state is S.CONNECTED
        )
        mem = int((350 + total * 52 + self._rng.uniform(-20, 20)) * 2**20)
        self._instances[iid] = replace(
            info,
            cpu_percent=cpu,
            memory_bytes=mem,
            sessions_total=total,
            sessions_connected=connected,
        )
        return InstanceLoad(
            at=at,
            instance_id=iid,
            url=info.url,
            pid=info.pid,
            cpu_percent=cpu,
            memory_bytes=mem,
            sessions_total=total,
            sessions_connected=connected,
            capacity=info.capacity,
            restarts=info.restarts,
        )

    async def _run(self) -> None:
        tick = 0
        while True:
            await asyncio.sleep(0.25)
            tick += 1
            now = utcnow()
            self._advance_scans(now)
            if tick % 4:
                continue
            for iid in self._instances:
                self._emit(self._load(iid, now))
            for sid, info in list(self._sessions.items()):
                if info.state is S.CONNECTED and self._rng.random() < 0.25:
                    mem = max(30 * 2**20, info.memory_bytes + self._rng.randint(-2, 2) * 2**19)
                    self._sessions[sid] = replace(info, last_heartbeat_at=now, memory_bytes=mem)
                    self._emit(SessionHeartbeat(session_id=sid, latency_ms=40, memory_bytes=mem))
            self._emit(SyncStatus(enabled=True, pending=tick % 3, delivered=tick, dead=2))

    def _advance_scans(self, now: datetime) -> None:
        for sid, info in list(self._sessions.items()):
            due = info.qr_expires_at is not None and info.qr_expires_at <= now
            if info.state is S.QR and due and not info.pairing_code:
                self._issue_qr(sid, now, NEXT_REF_S)
            scan = self._scan_at.get(sid)
            if scan is None or scan > now:
                continue
            if info.state.waiting_for_scan:
                self._sessions[sid] = replace(info, pairing_code="", pairing_phone="")
                self._move(sid, S.PAIRING, now, detail="scanned")
                self._scan_at[sid] = now + timedelta(seconds=1.6)
            elif info.state in (S.PAIRING, S.PASSKEY_REQUIRED):
                del self._scan_at[sid]
                phone = info.phone_number or f"628{self._rng.randrange(10**9, 10**10)}"
                self._sessions[sid] = replace(info, phone_number=phone)
                self._move(sid, S.CONNECTED, now, phone=phone)
                ready = SessionReady(
                    session_id=sid,
                    workspace_id=info.workspace_id,
                    phone_number=phone,
                    instance_id=info.instance_id,
                )
                self._emit(ready)

    def _issue_qr(self, sid: str, at: datetime, life: float, regen: bool = False) -> None:
        info = self._sessions[sid]
        qr = fake_qr(self._rng)
        expires = at + timedelta(seconds=life)
        if info.state is not S.QR:
            self._move(sid, S.QR, at, detail="ref 1/6, via modules")
        info = self._sessions[sid]
        self._sessions[sid] = replace(
            info, qr=qr, qr_issued_at=at, qr_expires_at=expires, qr_count=info.qr_count + 1
        )
        self._emit(
            QrIssued(
                at=at,
                session_id=sid,
                workspace_id=info.workspace_id,
                qr=qr,
                expires_at=expires,
                qr_count=info.qr_count + 1,
                is_regeneration=regen,
                instance_id=info.instance_id,
            )
        )

    def _move(
        self,
        sid: str,
        state: SessionState,
        at: datetime,
        reason: Reason | None = None,
        detail: str = "",
        phone: str = "",
    ) -> None:
        info = self._sessions.get(sid)
        if info is None:
            return
        connected_at = at if state is S.CONNECTED else info.connected_at
        self._sessions[sid] = replace(info, state=state, reason=reason, connected_at=connected_at)
        self._timelines.setdefault(sid, []).append(
            TimelineEntry(
                session_id=sid,
                state=state,
                previous=info.state,
                reason=reason,
                at=at,
                detail=detail,
            )
        )
        self._emit(
            SessionStateChanged(
                at=at,
                session_id=sid,
                workspace_id=info.workspace_id,
                state=state,
                previous=info.state,
                reason=reason,
                detail=detail,
                phone_number=phone,
                instance_id=info.instance_id,
            )
        )


_CLOSE = SyncStatus(enabled=False, last_error="closed")
_REASONS = {
    S.DISCONNECTED: Reason.BROWSER_CRASH,
    S.LOGGED_OUT: Reason.LOGOUT,
    S.FAILED: Reason.QR_LIMIT,
}


def _is_an_engine(engine: DemoEngine) -> Engine:
    return engine  # mypy checks here that DemoEngine satisfies the Engine Protocol
