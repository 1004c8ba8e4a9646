"""`read_results`: an earlier run's results file is read back only when it is this sheet's,
so a second run continues it; anything else is one line naming what does not fit."""

from __future__ import annotations

import re

import pytest

from app.domain.import_rows import ResultsFileError, parse_text, read_results, results_csv

SHEET = "workspace_id,label,phone\n1,Desk 1,\n2,=HYPERLINK(1),+62 812 1111 2222\nx,Bad,\n"


def _line(row: int, ws: str, label: str, sid: str, result: str) -> dict[str, str]:
    cells = {"row": str(row), "workspace_id": ws, "label": label, "phone": "6281299990000"}
    return cells | {"session_id": sid, "result": result, "seconds": "4"}


def _earlier(**changed: dict[str, str]) -> list[dict[str, str]]:
    lines = {
        "2": _line(2, "1", "Desk 1", "s-1", "connected"),
        "3": _line(3, "2", "=HYPERLINK(1)", "s-2", "timed out"),
        "4": _line(4, "x", "Bad", "", "rejected: workspace_id 'x' is not a number"),
    }
    for row, cells in changed.items():
        lines[row] = lines[row] | cells
    return list(lines.values())


def _read(lines: list[dict[str, str]]) -> dict[int, object]:
    return dict(read_results("r.csv", results_csv(lines).encode(), parse_text(SHEET)))


def test_a_results_file_reads_back_row_by_row_with_its_lines_as_written() -> None:
    text = results_csv(_earlier())
    earlier = read_results("r.csv", text.encode(), parse_text(SHEET))
    assert sorted(earlier) == [2, 3, 4]
    assert (earlier[2].session_id, earlier[2].result, earlier[2].rejected) == (
        "s-1",
        "connected",
        False,
    )
    assert earlier[3].cells["label"] == "'=HYPERLINK(1)", "as written: it is copied on as is"
    assert earlier[4].rejected and earlier[4].session_id == ""
    assert results_csv([e.cells for e in earlier.values()]) == text, "copied on, unchanged"


def test_a_results_file_saved_again_by_a_spreadsheet_still_reads() -> None:
    """Semicolons and a byte-order mark (a spreadsheet's "CSV UTF-8"), formula quote dropped."""
    text = results_csv(_earlier(**{"3": {"label": "=HYPERLINK(1)"}}))
    data = b"\xef\xbb\xbf" + text.replace('","', '";"').replace("'=", "=").encode()
    earlier = read_results("r.csv", data, parse_text(SHEET))
    assert earlier[3].session_id == "s-2"


@pytest.mark.parametrize(
    ("lines", "why"),
    [
        (_earlier(**{"2": {"row": "two"}}), "line 2: row 'two' is not a row number"),
        (_earlier(**{"3": {"row": "2"}}), "line 3: row 2 is listed twice"),
        (_earlier(**{"3": {"result": ""}}), "line 3: row 3 has no result"),
        (_earlier(**{"3": {"session_id": ""}}), "line 3: row 3 has no session id"),
        (
            _earlier(**{"3": {"session_id": "s-1"}}),
            "line 3: row 3 has the session id of another row (s-1)",
        ),
        (_earlier(**{"4": {"row": "9"}}), "it has a row 9 that the sheet does not have"),
        (_earlier()[:2], "it has no line for row 4 of the sheet"),
        (
            _earlier(**{"2": {"workspace_id": "7"}}),
            "row 2: workspace_id was '7', the sheet has '1'",
        ),
        (
            _earlier(**{"3": {"label": "Toko"}}),
            "row 3: label was 'Toko', the sheet has '=HYPERLINK(1)'",
        ),
        (
            _earlier(**{"2": {"result": "rejected: duplicate"}}),
            "row 2 was rejected in that run and is valid now",
        ),
        (
            _earlier(**{"4": {"result": "connected", "session_id": "s-4"}}),
            "row 4 was valid in that run and is rejected now",
        ),
    ],
)
def test_a_file_that_does_not_fit_the_sheet_is_refused_naming_the_first_misfit(
    lines: list[dict[str, str]], why: str
) -> None:
    with pytest.raises(ResultsFileError) as caught:
        _read(lines)
    assert str(caught.value) == why


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"workspace_id,label,phone\n1,Desk 1,\n", "not a results file (no row, session_id,"),
        (b"", "not a results file (no row, workspace_id"),
        (b'"row"\n\xff\xfe\x00x', "not readable as a results file (r.csv is not valid UTF-8"),
    ],
)
def test_a_file_that_is_no_results_file_is_refused(data: bytes, why: str) -> None:
    with pytest.raises(ResultsFileError, match="^" + re.escape(why)):
        read_results("r.csv", data, parse_text(SHEET))
