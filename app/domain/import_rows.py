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
"""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.csv_safe import write_csv
from app.domain.ids import InvalidIdentifier, normalize_phone
from app.domain.input_checks import text_problem
from app.domain.models import AccountSpec
from app.domain.proxy import InvalidProxy, Proxy, parse_proxy
from app.domain.sheet_files import MAX_FIELD, ImportFileError, csv_rows, sheet_rows

__all__ = ["ImportFileError", "ImportRow", "parse_bytes", "parse_text", "results_csv", "validate"]

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
    fields = ["row", "workspace_id", "label", "phone", "session_id", "result", "seconds"]
    return write_csv(fields, rows)
