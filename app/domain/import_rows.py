"""Onboarding rows: parse a CSV/XLSX sheet of accounts and validate every row first.

Pure Python (no Qt, no I/O beyond the bytes handed in), shared by the
console's Onboard view and `pairdesk onboard FILE`. Columns: `workspace_id`,
`label`, `phone` (optional; `phone_number` is accepted too), `proxy` (optional:
the account's own proxy URL, `docs/SESSIONS.md`; rows keep only its display
form, never the password, beyond the account they create). Each rejected
row carries a message like "row 14: workspace_id 'abc' is not a number";
row numbers are the spreadsheet's own (the header is row 1).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from app.domain.csv_safe import write_csv
from app.domain.ids import InvalidIdentifier, normalize_phone
from app.domain.models import AccountSpec
from app.domain.proxy import InvalidProxy, Proxy, parse_proxy

MAX_ROWS = 5000
MAX_LABEL = 120
_PHONE_KEYS = ("phone", "phone_number")


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

    @property
    def ok(self) -> bool:
        return self.spec is not None


class ImportFileError(ValueError):
    """The file as a whole cannot be read (wrong format, no header, too many rows)."""


def parse_bytes(name: str, data: bytes) -> list[ImportRow]:
    """Parse by file name: `.xlsx` with openpyxl, anything else as CSV (UTF-8, BOM ok)."""
    if name.lower().endswith((".xlsx", ".xlsm")):
        return validate(_xlsx_rows(data))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFileError(f"{name} is not UTF-8 text; save it as CSV UTF-8") from None
    return parse_text(text)


def parse_text(text: str) -> list[ImportRow]:
    """Parse CSV text (comma, semicolon or tab separated, sniffed)."""
    sample = text[:4096]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, ",;\t")
    except csv.Error:
        dialect = csv.excel
    return validate(list(csv.reader(io.StringIO(text), dialect)))


def _xlsx_rows(data: bytes) -> list[list[str]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a broken file
        raise ImportFileError(f"cannot read the workbook ({type(exc).__name__})") from None
    sheet = book.worksheets[0]
    rows = []
    for values in sheet.iter_rows(values_only=True):
        rows.append(["" if v is None else _cell(v) for v in values])
    book.close()
    return rows


def _cell(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


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
        try:
            proxy = parse_proxy(_at(raw, col_proxy)) if _at(raw, col_proxy) else None
        except InvalidProxy as exc:
            error, spec = f"row {line}: {exc}", None
        else:
            error, spec = _check(line, ws_raw, label, phone_raw, seen, proxy)
        shown = proxy.display if proxy is not None else ""
        out.append(ImportRow(line, ws_raw, label, phone_raw, spec, error, shown))
    return out


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
