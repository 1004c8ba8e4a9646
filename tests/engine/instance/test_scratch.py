"""Each instance's private temp folder, and the removal of what killed ones left."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest

from app.engine.instance import scratch


def _stamp(pid: int) -> int:
    return int(psutil.Process(pid).create_time() * 100)


def test_dead_runs_are_removed_live_ones_kept(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_stamp = _stamp(dead.pid)
    dead.wait()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead_dir = root / f"run-{dead.pid}-{dead_stamp}"
        profile = dead_dir / "playwright_chromiumdev_profile-abc123"
        profile.mkdir(parents=True)
        (profile / "Cookies").write_bytes(b"login")
        live_dir = root / f"run-{live.pid}-{_stamp(live.pid)}"
        live_dir.mkdir()
        # Same pid as a live process, other start time: a reused pid, the run is dead.
        reused = root / f"run-{live.pid}-{_stamp(live.pid) - 500}"
        reused.mkdir()
        unrelated = root / "pdeathsig-node-0123"
        unrelated.write_text("#!")
        removed = scratch.remove_dead_runs(root)
    finally:
        live.kill()
        live.wait()
    assert sorted(removed) == sorted([dead_dir, reused])
    assert not dead_dir.exists() and not reused.exists()
    assert live_dir.is_dir() and unrelated.is_file()


def test_claim_points_tmpdir_at_its_own_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMPDIR", "/tmp")
    root = Path(tempfile.mkdtemp(prefix="pd-", dir="/tmp"))  # short, as Chromium needs
    own = scratch.claim_scratch(root)
    assert os.environ["TMPDIR"] == str(own)
    assert own.parent == root and own.name == f"run-{os.getpid()}-{_stamp(os.getpid())}"
    assert (own.stat().st_mode & 0o777) == 0o700
    # A second claim (a second instance would be another pid) keeps the live folder.
    assert scratch.remove_dead_runs(root) == []
    scratch.release_scratch(own)
    assert not own.exists()
    root.rmdir()


def test_a_long_temp_path_falls_back_to_tmp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Chromium aborts when TMPDIR/org.chromium.Chromium.XXXXXX/SingletonSocket is too long.
    monkeypatch.setenv("TMPDIR", "/tmp")
    root = tmp_path / ("long" * 20)
    root.mkdir()
    own = scratch.claim_scratch(root)
    try:
        assert own.parent == Path("/tmp") / f"pairdesk-{os.getuid()}"
        assert len(str(own)) <= scratch.MAX_SCRATCH_PATH
    finally:
        scratch.release_scratch(own)
