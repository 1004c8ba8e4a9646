"""Onboarding rows: parse a CSV/XLSX sheet of accounts and validate every row first.

Pure Python (no Qt, no I/O beyond the bytes handed in), shared by the
console's Onboard view and `pairdesk onboard FILE`. Columns: `workspace_id`,
`label`, `phone` (optional; `phone_number` is accepted too), `proxy` (optional:
the account's own proxy URL, `docs/SESSIONS.md`; rows keep only its display
form, never the password, beyond the account they create). Each rejected
row carries a message like "row 14: workspace_id 'abc' is not a number";
row numbers are the spreadsheet's own (the header is row 1). A row that is
valid but hard to find later (neither label nor phone) is accepted with a
`warning`. Reading the file's bytes, with its size limits, is
`app.domain.sheet_files`.

The other way round, `read_results` reads the results file an earlier run
wrote (`results_csv`), so a second run on the same sheet can continue it. It
is used only when it holds exactly the sheet's rows (same row numbers,
workspace ids and labels, rejected where the sheet's rows are rejected);
anything else, a file that is not a results file or one of another sheet, is
a `ResultsFileError` naming the first line that does not fit: a results file
that is not this sheet's must never decide which accounts exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.domain.csv_safe import FORMULA_STARTS, safe_cell, write_csv
from app.domain.ids import InvalidIdentifier, normalize_phone
from app.domain.input_checks import text_problem
from app.domain.models import AccountSpec
from app.domain.proxy import InvalidProxy, Proxy, parse_proxy
from app.domain.sheet_files import MAX_FIELD, ImportFileError, csv_rows, decode, sheet_rows

__all__ = [
    "RESULT_FIELDS",
    "EarlierResult",
    "ImportFileError",
    "ImportRow",
    "ResultsFileError",
    "parse_bytes",
    "parse_text",
    "read_results",
    "results_csv",
    "validate",
]

MAX_ROWS = 5000
MAX_LABEL = 120
_PHONE_KEYS = ("phone", "phone_number")
_USED = frozenset({"workspace_id", "label", "proxy", *_PHONE_KEYS})  # other columns are ignored


@dataclass(frozen=True)
class ImportRow:
    """One data row: the account it would create, or why it cannot."""

    line: int
    workspace_raw: str
    label: str
    phone_raw: str
    spec: AccountSpec | None
    error: str = ""
    proxy: str = ""  # the proxy as shown (`Proxy.display`), never with its password
    warning: str = ""  # accepted, but the operator should know (e.g. "row 4: no label ...")

    @property
    def ok(self) -> bool:
        return self.spec is not None


def parse_bytes(name: str, data: bytes) -> list[ImportRow]:
    """Parse by file name: `.xlsx` with openpyxl, anything else as CSV (UTF-8 or UTF-16/32
    with a byte-order mark); size, row and expansion limits first (`sheet_files`)."""
    return validate(sheet_rows(name, data, max_rows=MAX_ROWS))


def parse_text(text: str) -> list[ImportRow]:
    """Parse CSV text (comma, semicolon or tab separated, sniffed)."""
    return validate(csv_rows(text, max_rows=MAX_ROWS))


def validate(rows: list[list[str]]) -> list[ImportRow]:
    """Validate sheet rows (the first is the header); every row gets a verdict."""
    rows = [r for r in rows]
    if not rows:
        raise ImportFileError("the file is empty; expected a header: workspace_id,label,phone")
    header = [h.strip().lower() for h in rows[0]]
    if "workspace_id" not in header:
        raise ImportFileError(
            f"no workspace_id column in the header ({', '.join(header) or 'empty'}); "
            "expected: workspace_id,label,phone"
        )
    if len(rows) - 1 > MAX_ROWS:
        raise ImportFileError(f"{len(rows) - 1} rows; import at most {MAX_ROWS} at a time")
    if not any(any(cell.strip() for cell in row) for row in rows[1:]):
        raise ImportFileError("no data rows under the header")
    col_ws = header.index("workspace_id")
    col_label = header.index("label") if "label" in header else -1
    col_phone = next((header.index(k) for k in _PHONE_KEYS if k in header), -1)
    col_proxy = header.index("proxy") if "proxy" in header else -1
    seen: dict[tuple[int, str], int] = {}
    out: list[ImportRow] = []
    for line, raw in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in raw):
            continue
        ws_raw, label, phone_raw = (_at(raw, col_ws), _at(raw, col_label), _at(raw, col_phone))
        proxy: Proxy | None = None
        bad_cell = _bad_cell(line, header, raw)
        if bad_cell:
            error, spec = bad_cell, None
        else:
            try:
                proxy = parse_proxy(_at(raw, col_proxy)) if _at(raw, col_proxy) else None
            except InvalidProxy as exc:
                error, spec = f"row {line}: {exc}", None
            else:
                error, spec = _check(line, ws_raw, label, phone_raw, seen, proxy)
        warning = ""
        if spec is not None and not label and not phone_raw:
            warning = (
                f"row {line}: no label and no phone; the account will be hard to find "
                "later, so add a label"
            )
        shown = proxy.display if proxy is not None else ""
        out.append(ImportRow(line, ws_raw, label, phone_raw, spec, error, shown, warning))
    return out


def _bad_cell(line: int, header: list[str], raw: list[str]) -> str:
    """A cell over 128 KB, or a used cell no layer can store (NUL, lone surrogate, control)."""
    for i, cell in enumerate(raw):
        column = header[i] if i < len(header) and header[i] else f"column {i + 1}"
        if len(cell) > MAX_FIELD:
            return f"row {line}: {column} is longer than {MAX_FIELD // 1024} KB"
        if column in _USED and (problem := text_problem(cell)):
            return f"row {line}: {column} {problem}; fix the cell and load the file again"
    return ""


def _at(raw: list[str], i: int) -> str:
    return raw[i].strip() if 0 <= i < len(raw) else ""


def _check(
    line: int,
    ws_raw: str,
    label: str,
    phone_raw: str,
    seen: dict[tuple[int, str], int],
    proxy: Proxy | None = None,
) -> tuple[str, AccountSpec | None]:
    where = f"row {line}"
    if not ws_raw:
        return f"{where}: workspace_id is empty", None
    if not ws_raw.isdigit():
        return f"{where}: workspace_id {ws_raw!r} is not a number", None
    if not ws_raw.isascii():  # never read '²' (int() fails) or '٤٢' (int() says 42) as a number
        return f"{where}: workspace_id {ws_raw!r} is not a number (digits 0-9 only)", None
    workspace = int(ws_raw)
    if workspace <= 0 or workspace > 2**63 - 1:
        return f"{where}: workspace_id {ws_raw} is out of range (1 and up)", None
    if len(label) > MAX_LABEL:
        return f"{where}: label is {len(label)} characters; at most {MAX_LABEL}", None
    phone = ""
    if phone_raw:
        try:
            phone = normalize_phone(phone_raw)
        except InvalidIdentifier as exc:
            return f"{where}: phone {phone_raw!r} is not valid ({exc})", None
    key = (workspace, phone or label.casefold())
    if key in seen:
        return f"{where}: duplicate of row {seen[key]} (same workspace and phone/label)", None
    seen[key] = line
    return "", AccountSpec(workspace_id=workspace, label=label, phone_number=phone, proxy=proxy)


def results_csv(rows: list[dict[str, str]]) -> str:
    """The export at the end of an onboarding run: one line per row with its result.

    Cells come from the operator's sheet, so they are escaped against formula
    injection (`app.domain.csv_safe`).
    """
    return write_csv(RESULT_FIELDS, rows)


RESULT_FIELDS = ("row", "workspace_id", "label", "phone", "session_id", "result", "seconds")
_REJECTED = "rejected"  # how a rejected row's result starts ("rejected: <why>")


class ResultsFileError(ValueError):
    """An earlier run's results file that cannot be continued: unreadable, or another sheet's."""


@dataclass(frozen=True)
class EarlierResult:
    """One row's line in an earlier run's results file."""

    line: int  # the sheet's row number
    session_id: str
    result: str
    cells: dict[str, str]  # the line as written (cells escaped by `csv_safe`), to copy on

    @property
    def rejected(self) -> bool:
        return self.result.startswith(_REJECTED)


def read_results(name: str, data: bytes, rows: Sequence[ImportRow]) -> dict[int, EarlierResult]:
    """The earlier run's result of every row of the sheet `rows`, by row number.

    Refused (`ResultsFileError`, one line naming the first problem) when `data` is not
    a results file, or does not hold exactly these rows.
    """
    try:
        table = csv_rows(decode(name, data), max_rows=MAX_ROWS)
    except ImportFileError as exc:
        raise ResultsFileError(f"not readable as a results file ({exc})") from None
    header = [h.strip().lower() for h in table[0]] if table else []
    missing = [f for f in RESULT_FIELDS if f not in header]
    if missing:
        raise ResultsFileError(f"not a results file (no {', '.join(missing)} column)")
    earlier: dict[int, EarlierResult] = {}
    sessions: set[str] = set()
    for n, raw in enumerate(table[1:], start=2):
        if not any(cell.strip() for cell in raw):
            continue
        cells = {f: _at(raw, header.index(f)) for f in RESULT_FIELDS}
        result, sid = _text(cells["result"]), _text(cells["session_id"])
        where = f"line {n}"
        if not cells["row"].isascii() or not cells["row"].isdigit():
            raise ResultsFileError(f"{where}: row {cells['row']!r} is not a row number")
        line = int(cells["row"])
        if line in earlier:
            raise ResultsFileError(f"{where}: row {line} is listed twice")
        if not result:
            raise ResultsFileError(f"{where}: row {line} has no result")
        if not result.startswith(_REJECTED) and (not sid or sid in sessions):
            why = "no session id" if not sid else f"the session id of another row ({sid})"
            raise ResultsFileError(f"{where}: row {line} has {why}")
        sessions.add(sid)
        earlier[line] = EarlierResult(line, sid, result, cells)
    _check_same_rows(earlier, rows)
    return earlier


def _check_same_rows(earlier: dict[int, EarlierResult], rows: Sequence[ImportRow]) -> None:
    """The results are this sheet's: the same rows, each with the same workspace and label."""
    by_line = {r.line: r for r in rows}
    extra = sorted(earlier.keys() - by_line.keys())
    if extra:
        raise ResultsFileError(f"it has a row {extra[0]} that the sheet does not have")
    for row in rows:
        before = earlier.get(row.line)
        if before is None:
            raise ResultsFileError(f"it has no line for row {row.line} of the sheet")
        for field, now in (("workspace_id", row.workspace_raw), ("label", row.label)):
            if before.cells[field] not in (now, safe_cell(now)):
                raise ResultsFileError(
                    f"row {row.line}: {field} was {_text(before.cells[field])!r}, "
                    f"the sheet has {now!r}"
                )
        if before.rejected == row.ok:
            then, now = ("rejected", "valid") if before.rejected else ("valid", "rejected")
            raise ResultsFileError(f"row {row.line} was {then} in that run and is {now} now")


def _text(cell: str) -> str:
    """A cell as the run wrote it, without the quote `csv_safe` puts before a formula."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS) else cell
