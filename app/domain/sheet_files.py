"""Turn the bytes of an accounts sheet into rows of text, refusing files that would hurt.

An onboarding file comes from anyone: it may be UTF-16 (Excel's "Unicode
text"), hold a 300 KB cell, a NUL byte, or be an XLSX "bomb" (a few KB of zip
expanding to hundreds of MB of XML, which openpyxl would build in memory
while the console froze). Limits are checked before the expensive step:

- the file itself: at most `MAX_FILE_BYTES`;
- XLSX: the zip's own directory is read first (no decompression) and the
  workbook refused when its parts would expand past `MAX_UNCOMPRESSED`, or
  hold more than `MAX_PARTS` parts; then it is read in openpyxl's read-only
  (streaming) mode, at most `MAX_COLS` columns, stopping at the row limit;
- CSV: a UTF-8 or UTF-16/32 byte-order mark picks the encoding; a cell over
  `MAX_FIELD` bytes stops the read with the row that holds it.

Every refusal is an `ImportFileError` whose message is one line for the
operator: what is wrong and what to do.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_UNCOMPRESSED = 64 * 1024 * 1024  # a 5000-row sheet is about 1 MB of XML
MAX_PARTS = 500
MAX_COLS = 64
MAX_FIELD = 128 * 1024
_BOMS = (  # longest first: the UTF-32 LE mark starts with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class ImportFileError(ValueError):
    """The file as a whole cannot be read (wrong format, no header, too many rows)."""


def sheet_rows(name: str, data: bytes, *, max_rows: int) -> list[list[str]]:
    """The rows (header first) of a `.xlsx`/`.xlsm` or CSV file, as text cells."""
    if len(data) > MAX_FILE_BYTES:
        raise ImportFileError(
            f"the file is {len(data) // (1024 * 1024)} MB; at most "
            f"{MAX_FILE_BYTES // (1024 * 1024)} MB, so split it into several files"
        )
    if name.lower().endswith((".xlsx", ".xlsm")):
        return xlsx_rows(data, max_rows=max_rows)
    return csv_rows(decode(name, data), max_rows=max_rows)


def decode(name: str, data: bytes) -> str:
    """The text of a CSV file: its byte-order mark decides, else UTF-16 when every other
    byte of the start is zero (Excel's "Unicode text" saved without a mark), else UTF-8."""
    codec = next((c for bom, c in _BOMS if data.startswith(bom)), "")
    if not codec:
        head = data[:400]
        if len(head) >= 8 and head[1::2].count(0) * 10 >= len(head) // 2 * 9:
            codec = "utf-16-le"
        elif len(head) >= 8 and head[0::2].count(0) * 10 >= len(head) // 2 * 9:
            codec = "utf-16-be"
    try:
        return data.decode(codec or "utf-8")
    except UnicodeDecodeError:
        shown = codec.upper().replace("-SIG", "") if codec else "UTF-8"
        raise ImportFileError(f"{name} is not valid {shown} text; save it as CSV UTF-8") from None


def csv_rows(text: str, *, max_rows: int) -> list[list[str]]:
    """CSV text (comma, semicolon or tab separated, sniffed) as rows of cells."""
    sample = text[:4096]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, ",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    rows: list[list[str]] = []
    try:
        for row in reader:
            rows.append(row)
            if len(rows) > max_rows + 1:
                raise ImportFileError(
                    f"more than {max_rows} rows; import at most {max_rows} at a time"
                )
    except csv.Error as exc:
        line = reader.line_num
        if "field limit" in str(exc):
            raise ImportFileError(
                f"row {line}: a cell is longer than {MAX_FIELD // 1024} KB; "
                "check the file (a missing closing quote joins rows into one cell)"
            ) from None
        raise ImportFileError(f"row {line}: not readable as CSV ({exc})") from None
    return rows


def xlsx_rows(data: bytes, *, max_rows: int) -> list[list[str]]:
    """The first sheet's rows, refusing a workbook that would expand past the limits."""
    _check_zip(data)
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a broken file
        raise ImportFileError(f"cannot read the workbook ({type(exc).__name__})") from None
    try:
        sheet = book.worksheets[0]
        rows: list[list[str]] = []
        for values in sheet.iter_rows(values_only=True, max_col=MAX_COLS):
            rows.append(["" if v is None else _cell(v) for v in values])
            if len(rows) > max_rows + 1:
                raise ImportFileError(
                    f"more than {max_rows} rows; import at most {max_rows} at a time"
                )
        return rows
    finally:
        book.close()


def _check_zip(data: bytes) -> None:
    """Refuse before decompressing: the zip directory states every part's real size."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ImportFileError("this is not an Excel workbook (.xlsx); save it again") from None
    if len(parts) > MAX_PARTS:
        raise ImportFileError(f"the workbook has {len(parts)} parts; this is not an accounts sheet")
    expanded = sum(p.file_size for p in parts)
    if expanded > MAX_UNCOMPRESSED:
        raise ImportFileError(
            f"the workbook expands to {expanded // (1024 * 1024)} MB "
            f"(at most {MAX_UNCOMPRESSED // (1024 * 1024)} MB); it was refused unread. "
            "Save the accounts alone as CSV UTF-8"
        )


def _cell(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
