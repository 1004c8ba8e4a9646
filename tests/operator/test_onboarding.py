"""`OnboardingRun`, the one model of an onboarding batch for the console and the CLI:
the warm window, what engine events mean for it, skip, give up, results."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from app.domain.events import SessionReady, SessionStateChanged
from app.domain.import_rows import parse_text, results_csv
from app.domain.models import SessionInfo
from app.domain.states import Reason, SessionState
from app.operator.onboarding import (
    ATTEMPTS,
    LEAD,
    MAX_WARM,
    WARM,
    OnboardingRun,
    warm_for,
    warm_up_pages,
)

S = SessionState
SHEET = "workspace_id,label,phone\n1,A,\n2,B,\nx,Bad,\n3,C,\n4,D,\n5,E,\n"


LONG_AGO = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)  # Start pressed long before the scans


def _run(n: int = 5, started_at: datetime | None = LONG_AGO) -> OnboardingRun:
    infos = [SessionInfo(session_id=f"s{k}", workspace_id=k + 1) for k in range(n)]
    return OnboardingRun(parse_text(SHEET), infos, started_at=started_at)


def _state(sid: str, state: SessionState, **kw: object) -> SessionStateChanged:
    return SessionStateChanged(session_id=sid, workspace_id=1, state=state, **kw)  # type: ignore[arg-type]


def _rows(run: OnboardingRun) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(results_csv(run.results()))))


def test_run_keeps_exactly_the_warm_window_started():
    run = _run(started_at=LONG_AGO)
    start, stop = run.plan()
    assert start == ["s0", "s1", "s2"] and not stop and WARM == 3
    run.mark_started(start)
    run.note_linking("s0")  # scanned: the next account opens at once
    assert run.plan() == (["s3"], [])
    run.mark_started(["s3"])
    run.skip("s1")  # to the back of the queue, stopped until it comes round
    assert run.order[-1] == "s1"
    assert run.plan() == (["s4"], ["s1"])
    run.mark_started(["s4"])
    run.mark_stopped(["s1"])
    run.set_paused(True)
    assert run.plan() == ([], ["s2", "s3", "s4"])
    assert "paused" in run.summary()


def test_fast_scans_widen_the_window_and_a_slow_one_does_not_close_what_opened():
    run = _run(12, started_at=LONG_AGO)
    t0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    assert run.next_moves() == (["s0", "s1", "s2"], [])
    run.apply(_state("s0", S.PAIRING, at=t0))
    assert run.next_moves() == (["s3"], [])  # one scan: no pace yet
    run.apply(_state("s1", S.PAIRING, at=t0 + timedelta(seconds=LEAD / 5)))
    start, stop = run.next_moves()  # faster than a page boots: open LEAD s of scans ahead
    assert start == ["s4", "s5", "s6", "s7"] and not stop  # the current one and 5 more
    slow = t0 + timedelta(seconds=LEAD * 4)
    run.apply(_state("s2", S.PAIRING, at=slow))
    assert run.next_moves() == ([], [])  # back to WARM, but nothing opened is stopped
    assert run.running >= {"s3", "s4", "s5", "s6", "s7"}


def test_the_window_covers_the_lead_at_the_pace_from_warm_to_its_ceiling():
    assert warm_for(LEAD * 10) == WARM  # a person's pace: the current account and two more
    assert warm_for(LEAD / 2) == WARM  # two scans ahead already cover the lead
    assert warm_for(LEAD / 4) == 5
    assert warm_for(LEAD / 6) == 7
    assert warm_for(0.05) == warm_for(0.0) == MAX_WARM  # a camera's pace: never more


def test_pages_booted_ahead_of_a_batch_cover_its_widest_window_and_no_more():
    assert warm_up_pages(0) == 0  # no valid row: give the pages back
    assert warm_up_pages(5) == 5  # a small batch: one page per account
    assert warm_up_pages(500) == MAX_WARM  # the window never opens more at once


def test_a_first_scan_soon_after_start_widens_the_window_at_once():
    t0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    run = _run(12, started_at=t0)
    assert run.next_moves() == (["s0", "s1", "s2"], [])
    run.apply(_state("s0", S.PAIRING, at=t0 + timedelta(seconds=LEAD / 5)))
    start, _ = run.next_moves()  # scanned faster than a page boots: no second scan needed
    assert start == ["s3", "s4", "s5", "s6"]


def test_the_same_account_linking_twice_is_one_scan_for_the_pace():
    run = _run(12, started_at=LONG_AGO)
    t0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    run.next_moves()
    run.apply(_state("s0", S.PAIRING, at=t0))
    run.apply(_state("s0", S.PAIRING, at=t0 + timedelta(seconds=0.1)))
    assert run.next_moves() == (["s3"], [])


def test_next_moves_are_recorded_so_each_call_is_asked_for_once():
    run = _run()
    assert run.next_moves() == (["s0", "s1", "s2"], [])
    assert run.next_moves() == ([], [])
    assert run.apply(_state("s1", S.PAIRING))
    assert run.next_moves() == (["s3"], [])


def test_engine_events_move_the_window_and_fill_the_results():
    run = _run(started_at=None)  # now: the result's seconds count from the account's start
    run.next_moves()
    at = run.started + timedelta(seconds=42)
    assert run.apply(_state("s0", S.PAIRING))
    assert run.apply(SessionReady(session_id="s0", workspace_id=1, phone_number="62811", at=at))
    assert not run.apply(_state("somebody-else", S.CONNECTED))
    assert run.open_ids() == ["s1", "s2", "s3", "s4"]
    first = _rows(run)[0]
    assert (first["result"], first["phone"], first["seconds"]) == ("connected", "62811", "42")


def test_a_warm_account_that_ran_out_of_qrs_is_started_again_however_often():
    run = _run()
    run.next_moves()
    for _ in range(ATTEMPTS + 2):
        assert run.apply(_state("s1", S.FAILED, reason=Reason.QR_LIMIT))
        assert run.next_moves() == (["s1"], [])
    assert run.result_of("s1") == "not connected"


def test_an_account_that_keeps_failing_is_given_up_and_the_next_one_opens():
    run = _run()
    run.next_moves()
    for attempt in range(1, ATTEMPTS + 1):
        run.apply(_state("s0", S.FAILED, reason=Reason.BROWSER_CRASH))
        start, _ = run.next_moves()
        assert start == (["s0"] if attempt < ATTEMPTS else ["s3"])
    assert run.result_of("s0") == "failed"
    assert "1 skipped" in run.summary()


def test_a_scan_that_did_not_take_needs_a_new_qr():
    run = _run()
    run.next_moves()
    run.apply(_state("s0", S.PAIRING))
    run.next_moves()  # s3 opened when s0 was scanned
    run.apply(_state("s0", S.LOGGED_OUT))
    assert run.open_ids()[0] == "s0"
    assert run.next_moves() == (["s0"], ["s3"])  # s0 is current again; the window is 3


def test_given_up_leaves_the_queue_and_a_late_scan_still_counts():
    run = _run(2)
    run.next_moves()
    run.give_up("s0", "timed out")
    assert run.open_ids() == ["s1"] and run.result_of("s0") == "timed out"
    assert run.next_moves() == ([], ["s0"])
    run.note_connected("s1", run.started, "62812")
    assert run.finished and not run.done
    run.note_connected("s0", run.started, "62811")
    assert run.done and run.result_of("s0") == "connected"


def test_results_have_every_row_with_result_and_phone():
    run = _run()
    run.mark_started(["s0"])
    run.note_connected("s0", run.started, "6281100000001")
    run.skip("s1")
    run.give_up("s3", "timed out")
    out = _rows(run)
    assert [r["row"] for r in out] == ["2", "3", "4", "5", "6", "7"]
    assert out[0]["result"] == "connected" and out[0]["phone"] == "6281100000001"
    assert out[1]["result"] == "skipped"
    assert out[2]["result"].startswith("rejected: workspace_id 'x'")
    assert [r["result"] for r in out[3:]] == ["not connected", "timed out", "not connected"]
    assert "1 / 5 connected" in run.summary() and "2 skipped" in run.summary()


def _phone_run() -> OnboardingRun:
    sheet = "workspace_id,label,phone\n1,Toko,+62 812 1111 2222\n2,Klinik,\n"
    infos = [
        SessionInfo(session_id="s0", workspace_id=1, phone_number="6281211112222"),
        SessionInfo(session_id="s1", workspace_id=2),
    ]
    return OnboardingRun(parse_text(sheet), infos)


def test_a_row_linked_by_another_phone_is_logged_out_and_marked_wrong_phone():
    run = _phone_run()
    run.next_moves()
    assert run.apply(_state("s0", S.PAIRING))
    assert run.apply(SessionReady(session_id="s0", workspace_id=1, phone_number="6289900001111"))
    assert "s0" not in run.connected
    expected = "wrong phone: expected +62 812 1111 2222, scanned by +62 899 0000 1111"
    assert run.result_of("s0") == expected
    assert run.take_logouts() == ["s0"] and run.take_logouts() == []  # asked for once
    # The logout that follows (ours) does not turn the result into "logged_out".
    run.apply(_state("s0", S.LOGGED_OUT, reason=Reason.USER_INITIATED))
    assert run.result_of("s0") == expected
    assert run.row_results() == {2: expected}
    assert _rows(run)[0]["result"] == expected
    assert _rows(run)[0]["phone"] == "'+62 812 1111 2222"  # the sheet's phone, as text


def test_a_connected_event_before_the_phone_is_known_is_undone_by_the_wrong_phone():
    run = _phone_run()
    run.next_moves()
    run.apply(_state("s0", S.CONNECTED))  # no phone reported yet
    assert "s0" in run.connected
    run.apply(SessionReady(session_id="s0", workspace_id=1, phone_number="+62 899 0000 1111"))
    assert "s0" not in run.connected and run.take_logouts() == ["s0"]
    assert not run.done


def test_the_right_phone_in_any_spelling_connects_and_rows_without_a_phone_take_any():
    run = _phone_run()
    run.next_moves()
    run.apply(SessionReady(session_id="s0", workspace_id=1, phone_number="+62 (812) 1111-2222"))
    run.apply(SessionReady(session_id="s1", workspace_id=2, phone_number="6281300000000"))
    assert run.result_of("s0") == run.result_of("s1") == "connected"
    assert run.take_logouts() == [] and run.done
