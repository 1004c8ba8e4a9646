"""`pairdesk onboard FILE`: rows checked first, nothing created from a bad file, a real run."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from app.cli import main


@pytest.fixture
def no_engine(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Fails the test if anything tries to build an engine (i.e. create accounts)."""
    opened: list[object] = []

    def refuse(settings: object) -> object:
        opened.append(settings)
        raise AssertionError("an engine was opened")

    monkeypatch.setattr("app.bootstrap.open_engine", refuse)
    return opened


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in [k for k in __import__("os").environ if k.startswith("PAIRDESK_")]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def _sheet(tmp_path: Path, text: str, name: str = "accounts.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_bad_rows_are_listed_and_nothing_is_created(tmp_path, capsys, no_engine):
    path = _sheet(tmp_path, "workspace_id,label,phone\nabc,Bengkel,\n,Empty,\n7,Toko,12ab\n")
    assert main(["onboard", str(path)]) == 2
    out, err = capsys.readouterr()
    assert "row 2: workspace_id 'abc' is not a number" in out
    assert "row 3: workspace_id is empty" in out
    assert "row 4: phone '12ab'" in out
    assert "no valid row" in err and "nothing was created" in err
    assert not no_engine and not (tmp_path / "accounts.csv.results.csv").exists()


def test_mixed_rows_need_confirmation(tmp_path, capsys, no_engine, monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    path = _sheet(tmp_path, "workspace_id,label\n1,Toko\nx,Bad\n1,Toko\n")
    assert main(["onboard", str(path)]) == 2
    out = capsys.readouterr().out
    assert "row 3: workspace_id 'x' is not a number" in out
    assert "row 4: duplicate of row 2" in out
    assert "1 row(s) ready, 2 rejected" in out and "--yes" in out
    assert not no_engine


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("label,phone\nToko,\n", "no workspace_id column"),
        ("", "the file is empty"),
        ("workspace_id,label\n", "no data rows"),
    ],
)
def test_unusable_file_creates_nothing(tmp_path, capsys, no_engine, text, why):
    assert main(["onboard", str(_sheet(tmp_path, text))]) == 2
    err = capsys.readouterr().err
    assert why in err and "nothing was created" in err and "Traceback" not in err
    assert not no_engine


def test_missing_file_is_one_line(tmp_path, capsys, no_engine):
    assert main(["onboard", str(tmp_path / "nope.csv")]) == 2
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.e2e
def test_sandbox_phone_scans_both_accounts_and_results_say_connected(tmp_path, capsys):
    path = _sheet(tmp_path, "workspace_id,label,phone\n31,Toko Maju,\n32,Klinik Sehat,\n")
    results = tmp_path / "out" / "results.csv"
    results.parent.mkdir()
    code = main(
        [
            "onboard",
            str(path),
            "--phone-scan-sandbox",
            "--results",
            str(results),
            "--time-scale",
            "0.3",
            "--instances",
            "1",
            "--data-dir",
            str(tmp_path / "data"),
            "--sessions-dir",
            str(tmp_path / "sessions"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "[1/2] Toko Maju (ws 31)" in out and "[2/2] Klinik Sehat (ws 32)" in out
    assert "█" in out or "▀" in out  # the QR as terminal art
    rows = list(csv.DictReader(results.open(encoding="utf-8")))
    assert [r["label"] for r in rows] == ["Toko Maju", "Klinik Sehat"]
    assert all(r["result"] == "connected" for r in rows)
    assert all(r["phone"].startswith("6281") and r["session_id"] for r in rows)
