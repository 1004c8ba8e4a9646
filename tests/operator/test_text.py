"""The words and numbers every screen shows: durations, countdowns, sizes, phone numbers."""

from __future__ import annotations

import pytest

from app.domain.states import SessionState
from app.operator import text


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(None, ""), (42, "42 s"), (180, "3 min"), (7500, "2 h 05"), (3 * 86400 + 4 * 3600, "3 d 4 h")],
)
def test_durations_are_compact(seconds: float | None, shown: str) -> None:
    assert text.duration(seconds) == shown


def test_countdowns_sizes_and_phone_numbers() -> None:
    assert text.countdown(16.2) == "0:17"
    assert (text.size(0), text.size(512 * 2**20), text.size(9.1 * 2**30)) == (
        "",
        "512 MiB",
        "9.1 GiB",
    )
    assert text.phone("6281122334410") == "+62 811 2233 4410"
    assert text.phone("unknown") == "unknown"


def test_every_state_has_words_a_filter_chip_and_a_sort_place() -> None:
    states = set(SessionState)
    assert set(text.STATE_LABELS) == states == set(text.STATE_SORT)
    assert set().union(*text.STATE_GROUPS.values()) == states
