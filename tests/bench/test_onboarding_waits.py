"""The operator's wait in `onboarding`: from the phone's OK to the next QR painted."""

from __future__ import annotations

from app.bench.onboarding import _waits
from app.ui.bench_probes import Paint


def test_wait_runs_from_the_ok_to_the_next_accounts_first_paint() -> None:
    owner = {"qr-a": "a", "qr-b": "b", "qr-c": "c"}
    scans = [("a", 1.0, 1.1), ("b", 2.0, 2.1), ("c", 3.0, 3.1)]
    paints = [
        Paint(0.5, "focus", "qr-a"),
        Paint(1.3, "focus", "qr-a"),  # the scanned one again, under "linking…": not the next
        Paint(1.4, "focus", "qr-b"),
        Paint(2.05, "focus", "qr-c"),  # on screen before the phone's OK: no wait at all
    ]
    assert _waits(scans, paints, owner) == [300.0, 0.0]


def test_no_wait_is_invented_when_the_next_qr_never_came() -> None:
    assert _waits([("a", 1.0, 1.1), ("b", 2.0, 2.1)], [Paint(0.5, "", "qr-a")], {"qr-a": "a"}) == []


def test_the_next_qr_drawn_beside_the_current_one_is_no_wait() -> None:
    owner = {"qr-a": "a", "qr-b": "b", "qr-c": "c"}
    scans = [("a", 1.0, 1.1), ("b", 2.0, 2.1), ("c", 3.0, 3.1)]
    paints = [
        Paint(0.4, "focus", "qr-a"),
        Paint(0.5, "next", "qr-b"),  # beside "a" before its scan was even posted
        Paint(1.2, "focus", "qr-b"),
        Paint(1.2, "next", "qr-a"),  # the beside slot now shows the scanned one: no help
        Paint(2.4, "focus", "qr-c"),
    ]
    # After a: b was beside it -> 0. After b: the beside slot showed a (scanned), so c's
    # first paint after b's scan was posted counts, 300 ms after the OK.
    assert _waits(scans, paints, owner) == [0.0, 300.0]
