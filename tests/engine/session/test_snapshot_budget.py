"""Periodic snapshots share a tenth of a core: expensive ones come less often."""

from __future__ import annotations

import pytest

from app.engine.session.snapshot_budget import SnapshotBudget


def test_cheap_snapshots_keep_the_configured_interval() -> None:
    budget = SnapshotBudget(share=0.1)
    for i in range(300):  # 300 light pages, 5 ms each: 1.5 s a round, well inside 60 s
        budget.record(f"s{i}", 0.005)
    assert budget.interval(60.0) == 60.0


def test_heavy_snapshots_are_spaced_so_that_together_they_keep_to_the_share() -> None:
    budget = SnapshotBudget(share=0.1)
    for i in range(120):  # 120 real-weight pages, 1.5 s each
        budget.record(f"s{i}", 1.5)
    every = budget.interval(60.0)
    assert every == pytest.approx(120 * 1.5 / 0.1)
    # What all snapshots of one interval cost, per second of it: the share.
    assert 120 * 1.5 / every == pytest.approx(0.1)


def test_a_closed_session_no_longer_counts() -> None:
    budget = SnapshotBudget(share=0.5)
    budget.record("a", 40.0)
    budget.record("b", 40.0)
    assert budget.interval(60.0) == pytest.approx(160.0)
    budget.forget("a")
    assert budget.interval(60.0) == pytest.approx(80.0)
    budget.forget("never-seen")  # harmless


def test_one_slow_snapshot_moves_the_estimate_but_does_not_replace_it() -> None:
    budget = SnapshotBudget(share=1.0)
    budget.record("a", 1.0)
    budget.record("a", 3.0)  # a busy moment
    assert 1.0 < budget.interval(0.0) < 3.0


def test_the_share_must_be_a_fraction_of_a_core() -> None:
    with pytest.raises(ValueError):
        SnapshotBudget(share=0)
    with pytest.raises(ValueError):
        SnapshotBudget(share=1.5)
