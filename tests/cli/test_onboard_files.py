"""The results file of `pairdesk onboard`: written whole and owner-only, an earlier one
kept beside it under the next free number and never written over, and a write that
fails leaves the earlier results as they were, with no copy or temporary file."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from app.cli import UserError
from app.cli._onboard_files import write_results

LINE = {"row": "2", "workspace_id": "1", "label": "Desk 1", "session_id": "s-1-0"}


def _lines(result: str) -> list[dict[str, str]]:
    return [{**LINE, "result": result}]


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_earlier_results_are_kept_under_the_next_free_number(tmp_path) -> None:
    results = tmp_path / "a.csv.results.csv"
    assert write_results(results, _lines("timed out")) is None
    first = results.read_bytes()
    (tmp_path / "a.csv.results.1.csv").write_bytes(b"an older copy")
    kept = write_results(results, _lines("connected"))
    assert kept == tmp_path / "a.csv.results.2.csv"
    assert kept.read_bytes() == first
    assert (tmp_path / "a.csv.results.1.csv").read_bytes() == b"an older copy"
    assert b"connected" in results.read_bytes()
    assert {stat.S_IMODE(p.stat().st_mode) for p in (results, kept)} == {0o600}
    assert _names(tmp_path) == ["a.csv.results.1.csv", "a.csv.results.2.csv", "a.csv.results.csv"]


def test_a_failed_write_leaves_the_earlier_results_and_nothing_else(tmp_path, monkeypatch) -> None:
    results = tmp_path / "a.csv.results.csv"
    write_results(results, _lines("timed out"))
    first = results.read_bytes()
    replace = os.replace

    def full_disk(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if Path(dst) == results:
            raise OSError(errno.ENOSPC, "No space left on device")
        replace(src, dst)

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(UserError, match="No space left on device.*still holds the earlier"):
        write_results(results, _lines("connected"))
    assert results.read_bytes() == first
    assert _names(tmp_path) == ["a.csv.results.csv"], "no copy of it, no temporary file"
