"""Periodic snapshots share a tenth of a core: expensive ones come less often."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config import Settings
from app.engine.session.health import HealthPolicy
from app.engine.session.snapshot_budget import SnapshotBudget
from app.engine.session.worker import SessionCore


def test_cheap_snapshots_keep_the_configured_interval() -> None:
    budget = SnapshotBudget(share=0.1)
    for i in range(300):  # 300 light pages, 5 ms each: 1.5 s a round, well inside 60 s
        budget.record(f"s{i}", 0.005, ended_at=0.0)
    assert budget.interval(60.0) == 60.0


def test_heavy_snapshots_are_spaced_so_that_together_they_keep_to_the_share() -> None:
    budget = SnapshotBudget(share=0.1)
    for i in range(120):  # 120 real-weight pages, 1.5 s each
        budget.record(f"s{i}", 1.5, ended_at=0.0)
    every = budget.interval(60.0)
    assert every == pytest.approx(120 * 1.5 / 0.1)
    # What all snapshots of one interval cost, per second of it: the share.
    assert 120 * 1.5 / every == pytest.approx(0.1)


def test_a_closed_session_no_longer_counts() -> None:
    budget = SnapshotBudget(share=0.5)
    budget.record("a", 40.0, ended_at=0.0)
    budget.record("b", 40.0, ended_at=0.0)
    assert budget.interval(60.0) == pytest.approx(160.0)
    budget.forget("a")
    assert budget.interval(60.0) == pytest.approx(80.0)
    budget.forget("never-seen")  # harmless


def test_one_slow_snapshot_moves_the_estimate_but_does_not_replace_it() -> None:
    budget = SnapshotBudget(share=1.0)
    budget.record("a", 1.0, ended_at=0.0)
    budget.record("a", 3.0, ended_at=0.0)  # a busy moment
    assert 1.0 < budget.interval(0.0) < 3.0


def test_snapshots_linked_together_do_not_all_run_a_period_later() -> None:
    budget = SnapshotBudget(share=0.1)  # 6 s of snapshots a minute
    now = 1000.0
    started = 0
    for i in range(50):  # fifty sessions due at once, each snapshot 2 s
        if budget.may_start(now):
            budget.record(f"s{i}", 2.0, ended_at=now + 2.0)
            started += 1
    assert started == 3  # then the minute's share is spent
    assert not budget.may_start(now + 30.0)
    assert budget.may_start(now + 2.0 + 60.0)  # the window moved past them


def test_the_share_must_be_a_fraction_of_a_core() -> None:
    with pytest.raises(ValueError):
        SnapshotBudget(share=0)
    with pytest.raises(ValueError):
        SnapshotBudget(share=1.5)


class _Host:
    """What `SessionCore.snapshot_every` reads from its host."""

    def __init__(self, tmp_path: Path) -> None:
        self.settings = Settings(sessions_dir=tmp_path)
        self.policy = HealthPolicy(interval=5.0, snapshot_interval=60.0)
        self.snapshot_budget = SnapshotBudget(share=0.1)


def test_a_session_waits_as_long_as_its_instance_budget_says(tmp_path: Path) -> None:
    host = _Host(tmp_path)
    core = SessionCore(host, session_id="s1", workspace_id=1, label="")  # type: ignore[arg-type]
    assert core.snapshot_every() == 60.0
    for i in range(120):
        host.snapshot_budget.record(f"s{i}", 1.5, ended_at=0.0)
    assert core.snapshot_every() == pytest.approx(1800.0)
    core.disk_full_failures = 1  # a full disk still retries at heartbeat pace
    assert core.snapshot_every() == 5.0
