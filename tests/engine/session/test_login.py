"""SessionHost against the sandbox with real Chromium: open -> QR -> scan -> connected,
in every flavour of the page, and the QR lifecycle (rotation, idle reload, limit)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from app.domain.events import QrIssued, SessionError, SessionReady, SessionStateChanged
from app.domain.states import Reason, SessionState
from tests.engine.session_support import world

pytestmark = pytest.mark.e2e
S = SessionState


@pytest.mark.parametrize(
    ("flavour", "method"), [("full", "modules"), ("dom", "dom"), ("pixels", "pixels")]
)
async def test_open_scan_connected_in_every_flavour(
    tmp_path: Path, flavour: str, method: str
) -> None:
    async with world(tmp_path, flavour=flavour) as w:
        host = await w.host()
        started = time.perf_counter()
        info = await host.start_session(session_id="s1", workspace_id=7, label="shop")
        assert info.session_id == "s1" and info.workspace_id == 7
        qr = await w.recorder.wait_for(QrIssued, lambda e: e.session_id == "s1")
        print(f"\n[{flavour}] cold add->QR {1000 * (time.perf_counter() - started):.0f} ms")
        assert qr.extraction_method == method
        assert qr.qr_count == 1 and qr.expires_at > qr.at
        assert len(qr.qr.split(",")) == 5
        await w.scan("s1", "6281234567890")
        ready = await w.recorder.wait_for(SessionReady, lambda e: e.session_id == "s1")
        assert ready.phone_number == "6281234567890"
        assert ready.extraction_method == method and not ready.restored
        states = w.recorder.states("s1")
        assert states[0] is S.STARTING and states[-1] is S.CONNECTED
        assert S.QR in states
        assert host.sessions()[0].state is S.CONNECTED
        assert (await w.phone.stats())["conflicts_total"] == 0


async def test_ref_rotation_idle_reload_and_qr_limit(tmp_path: Path) -> None:
    # time_scale 0.01: a batch (60 s + 5 x 20 s) lasts 1.6 s.
    async with world(tmp_path, time_scale=0.01) as w:
        host = await w.host(time_scale=0.01, qr_limit=2)
        await host.start_session(session_id="s1", workspace_id=1)
        failed = await w.recorder.wait_state("s1", S.FAILED)
        assert failed.reason is Reason.QR_LIMIT
        qrs = w.recorder.of(QrIssued, "s1")
        assert len(qrs) == 12, "6 refs per batch, 2 batches"
        assert [q.qr_count for q in qrs] == list(range(1, 13))
        assert len({q.qr for q in qrs}) == 12, "every ref is a new QR"
        assert qrs[6].is_regeneration and not qrs[1].is_regeneration
        # The first ref of a batch lives 60 s, the others 20 s (scaled).
        assert qrs[0].expires_in > qrs[1].expires_in
        steps = [(e.state, e.reason) for e in w.recorder.of(SessionStateChanged, "s1")]
        assert steps == [
            (S.STARTING, None),
            (S.QR, None),
            (S.QR_IDLE, Reason.QR_EXPIRED),
            (S.QR, None),
            (S.QR_IDLE, Reason.QR_EXPIRED),
            (S.FAILED, Reason.QR_LIMIT),
        ]
        error = await w.recorder.wait_for(SessionError, lambda e: e.session_id == "s1")
        assert error.error == "qr_limit"
        # The operator asks for a QR again: a fresh page, a new QR at once.
        again = await host.regenerate_qr("s1")
        assert again.is_regeneration and again.qr not in {q.qr for q in qrs}
        assert host.session("s1").state is S.QR


async def test_regenerate_qr_on_request(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        host = await w.host()
        await host.start_session(session_id="s1", workspace_id=1)
        first = await w.recorder.wait_for(QrIssued, lambda e: e.session_id == "s1")
        fresh = await host.regenerate_qr("s1")
        assert fresh.is_regeneration and fresh.qr != first.qr
        assert fresh.qr_count > first.qr_count
        await w.phone.scan(fresh.qr, "6281111111111")
        ready = await w.recorder.wait_for(SessionReady, lambda e: e.session_id == "s1")
        assert ready.phone_number == "6281111111111"


@pytest.mark.parametrize("flavour", ["dom", "pixels"])
async def test_fallback_flavours_reload_an_idle_qr(tmp_path: Path, flavour: str) -> None:
    async with world(tmp_path, flavour=flavour, time_scale=0.02) as w:
        host = await w.host(time_scale=0.02, qr_limit=2)
        await host.start_session(session_id="s1", workspace_id=1)
        failed = await w.recorder.wait_state("s1", S.FAILED)
        assert failed.reason is Reason.QR_LIMIT
        steps = [e.state for e in w.recorder.of(SessionStateChanged, "s1")]
        assert steps == [S.STARTING, S.QR, S.QR_IDLE, S.QR, S.QR_IDLE, S.FAILED]
        methods = {q.extraction_method for q in w.recorder.of(QrIssued, "s1")}
        assert methods == {"dom" if flavour == "dom" else "pixels"}
