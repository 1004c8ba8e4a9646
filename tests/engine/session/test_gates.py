"""SessionHost against the sandbox: the gates besides the QR. Link with phone number
(pairing codes, renewed, back to QR), terminal socket states in every extraction path.
(The conflict read from page state whatever the page's language: test_restore.py.)"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from app.domain.events import PairingCodeIssued, QrIssued, SessionReady, SessionStateChanged
from app.domain.states import Reason, SessionState
from app.operator.text import reason_message
from app.sandbox import PhoneError
from tests.engine.session_support import world

pytestmark = pytest.mark.e2e
S = SessionState
PHONE = "6281234567890"


async def test_pairing_code_links_the_account(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        host = await w.host()
        await host.start_session(session_id="s1", workspace_id=1)
        await w.recorder.wait_for(QrIssued, lambda e: e.session_id == "s1")
        started = time.perf_counter()
        first = await host.request_pairing_code("s1", PHONE)
        print(f"\nQR on screen -> pairing code in {1000 * (time.perf_counter() - started):.0f} ms")
        assert len(first.code) == 8 and first.code.isalnum() and first.code.isupper()
        assert first.display_code == f"{first.code[:4]}-{first.code[4:]}"
        assert first.phone == PHONE and first.code_count == 1 and first.expires_at > first.at
        info = host.session("s1")
        assert info.state is S.QR and info.pairing_code == first.code and info.qr == ""
        assert w.recorder.of(PairingCodeIssued, "s1") == [first], "the code travels as an event"
        with pytest.raises(PhoneError) as wrong:
            await w.phone.pair(first.code, "6289999999999")
        assert wrong.value.status == 409
        mark = len(w.recorder.events)
        result = await w.phone.pair(first.display_code, PHONE)  # typed as shown, with its dash
        assert result["linked"] is True
        ready = await w.recorder.wait_for(SessionReady, lambda e: e.session_id == "s1", start=mark)
        assert ready.phone_number == PHONE and not ready.restored
        states = w.recorder.states("s1")
        assert states[-3:] == [S.QR, S.PAIRING, S.CONNECTED]
        assert host.session("s1").pairing_code == "", "a linked account shows no code"


async def test_codes_renew_while_unpaired_and_the_qr_comes_back(tmp_path: Path) -> None:
    # time_scale 0.02: a code lives 3.6 s, a QR batch 3.2 s.
    async with world(tmp_path, time_scale=0.02) as w:
        host = await w.host(time_scale=0.02, qr_limit=5)
        await host.start_session(session_id="s1", workspace_id=1)
        await w.recorder.wait_for(QrIssued, lambda e: e.session_id == "s1")
        first = await host.request_pairing_code("s1", PHONE)
        mark = len(w.recorder.events)
        second = await w.recorder.wait_for(
            PairingCodeIssued, lambda e: e.session_id == "s1", start=mark
        )
        assert second.code_count == 2 and second.code != first.code
        # While the code shows, the QR's refs turn unseen: no QR event, no idle batch.
        between = w.recorder.events[mark : w.recorder.events.index(second)]
        assert not [e for e in between if isinstance(e, QrIssued)]
        assert S.QR_IDLE not in [e.state for e in between if isinstance(e, SessionStateChanged)]
        with pytest.raises(PhoneError) as old:
            await w.phone.pair(first.code, PHONE)
        assert old.value.status == 404, "a renewed code replaces the old one"
        # Back to the QR: a new batch at once, and the code is void.
        mark = len(w.recorder.events)
        qr = await host.regenerate_qr("s1")
        assert qr is not None and qr.is_regeneration
        assert host.session("s1").pairing_code == ""
        with pytest.raises(PhoneError):
            await w.phone.pair(second.code, PHONE)
        await asyncio.sleep(0.1)
        assert not [e for e in w.recorder.events[mark:] if isinstance(e, PairingCodeIssued)]
        await w.scan("s1", PHONE, start=mark)
        await w.recorder.wait_for(SessionReady, lambda e: e.session_id == "s1", start=mark)


async def test_unused_codes_end_like_an_unscanned_qr(tmp_path: Path) -> None:
    async with world(tmp_path, time_scale=0.01) as w:
        host = await w.host(time_scale=0.01, qr_limit=2)
        await host.start_session(session_id="s1", workspace_id=1)
        await w.recorder.wait_for(QrIssued, lambda e: e.session_id == "s1")
        await host.request_pairing_code("s1", PHONE)
        failed = await w.recorder.wait_state("s1", S.FAILED)
        assert failed.reason is Reason.QR_LIMIT
        assert [e.code_count for e in w.recorder.of(PairingCodeIssued, "s1")] == [1, 2]


async def test_a_code_for_a_session_still_opening_waits_for_its_page(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        host = await w.host()
        starting = asyncio.create_task(host.start_session(session_id="s1", workspace_id=1))
        await w.recorder.wait_state("s1", S.STARTING)
        code = await host.request_pairing_code("s1", PHONE)
        await starting
        assert code.code_count == 1 and host.session("s1").pairing_code == code.code


async def test_each_block_is_named_and_never_retried(tmp_path: Path) -> None:
    blocks = ["PROXYBLOCK", "TOS_BLOCK", "SMB_TOS_BLOCK", "DEPRECATED_VERSION"]
    phones = {block: f"62812345678{n:02d}" for n, block in enumerate(blocks)}
    async with world(tmp_path) as w:
        host = await w.host()
        for block in blocks:
            await w.connect(host, block, phones[block])
        mark = len(w.recorder.events)
        for block in blocks:  # each account meets its own block
            await w.phone.set_faults(block_state=block, block_phone=phones[block])
            failed = await w.recorder.wait_state(block, S.FAILED, start=mark)
            assert failed.reason is Reason(block)
            assert failed.detail == reason_message(Reason(block)) and block in failed.detail
        opened = (await w.phone.stats())["pages"]["opened_total"]
        await asyncio.sleep(2)  # a (wrong) automatic retry would open a page by now
        assert {info.state for info in host.sessions()} == {S.FAILED}
        assert (await w.phone.stats())["pages"]["opened_total"] == opened
        after = [e for e in w.recorder.events[mark:] if isinstance(e, SessionStateChanged)]
        assert [(e.session_id, e.state) for e in after] == [(b, S.FAILED) for b in blocks]


@pytest.mark.parametrize("flavour", ["full", "dom", "pixels"])
async def test_blocks_are_seen_in_every_extraction_path(tmp_path: Path, flavour: str) -> None:
    async with world(tmp_path, flavour=flavour) as w:
        await w.phone.set_faults(block_state="DEPRECATED_VERSION")
        host = await w.host()
        await host.start_session(session_id="s1", workspace_id=1)
        failed = await w.recorder.wait_state("s1", S.FAILED)
        assert failed.reason is Reason.DEPRECATED_VERSION
        assert not w.recorder.of(QrIssued, "s1"), "a blocked page shows no QR"
