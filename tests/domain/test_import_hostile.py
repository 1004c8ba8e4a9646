"""Onboarding sheets from anyone: odd digits, huge cells, NUL, UTF-16, XLSX bombs, empty files.

Each refusal is one line naming the row (or the file), never a traceback.
"""

from __future__ import annotations

import codecs
import io
import zipfile

import pytest

from app.domain.import_rows import ImportFileError, parse_bytes, parse_text
from app.domain.sheet_files import MAX_UNCOMPRESSED

HEADER = "workspace_id,label,phone\n"


@pytest.mark.parametrize("digits", ["²", "٤٢", "４２", "1²"])
def test_non_ascii_digits_are_not_a_workspace_id(digits: str) -> None:
    [row] = parse_text(f"{HEADER}{digits},Toko,\n")
    assert not row.ok
    assert row.error == f"row 2: workspace_id {digits!r} is not a number (digits 0-9 only)"


def test_a_cell_over_128_kb_names_its_row() -> None:
    text = f"{HEADER}1,Toko,\n2,{'x' * (200 * 1024)},\n"
    with pytest.raises(ImportFileError, match=r"^row 3: a cell is longer than 128 KB"):
        parse_text(text)


@pytest.mark.parametrize(
    ("cell", "why"),
    [("To\x00ko", "holds a NUL character"), ("Toko\ud800", "unpaired surrogate")],
)
def test_nul_and_lone_surrogates_reject_the_row(cell: str, why: str) -> None:
    good, bad = parse_text(f"{HEADER}1,Toko,\n2,{cell},\n")
    assert good.ok
    assert not bad.ok and bad.error.startswith("row 3: label ") and why in bad.error


def test_a_nul_byte_in_a_file_is_a_rejected_row_not_a_crash() -> None:
    good, bad = parse_bytes("a.csv", b"workspace_id,label\n1,Toko\n2,Kl\x00inik\n")
    assert good.ok and not bad.ok and "row 3: label holds a NUL character" in bad.error


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_with_a_byte_order_mark_are_read(codec: str) -> None:
    text = f"{HEADER}7,Toko Ümit,+62 812 1111 2222\n"
    bom = {"utf-16": b"", "utf-16-be": codecs.BOM_UTF16_BE, "utf-32": b""}[codec]
    [row] = parse_bytes("sheet.csv", bom + text.encode(codec))
    assert row.ok and row.label == "Toko Ümit" and row.spec is not None
    assert row.spec.phone_number == "6281211112222"


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_mark_is_detected_too(codec: str) -> None:
    [row] = parse_bytes("sheet.csv", f"{HEADER}7,Toko,\n".encode(codec))
    assert row.ok and row.label == "Toko"


def test_text_that_is_not_utf8_says_what_to_do() -> None:
    with pytest.raises(ImportFileError, match="not valid UTF-8 text; save it as CSV UTF-8"):
        parse_bytes("sheet.csv", f"{HEADER}7,Café,\n".encode("latin-1"))


def test_a_header_only_sheet_has_no_data_rows() -> None:
    for text in (HEADER, HEADER + ",,\n\n"):
        with pytest.raises(ImportFileError, match="no data rows"):
            parse_text(text)


def test_a_row_with_neither_label_nor_phone_is_accepted_with_a_warning() -> None:
    named, unnamed = parse_text(f"{HEADER}1,Toko,\n2,,\n")
    assert named.ok and not named.warning
    assert unnamed.ok
    assert unnamed.warning == (
        "row 3: no label and no phone; the account will be hard to find later, so add a label"
    )


def _bomb(expanded: int) -> bytes:
    """An XLSX-shaped zip whose sheet expands to `expanded` bytes of XML."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
            chunk = b"<row><c><v>1</v></c></row>" * 40_000
            written = 0
            while written < expanded:
                sheet.write(chunk)
                written += len(chunk)
    return buf.getvalue()


def test_an_xlsx_bomb_is_refused_before_it_is_decompressed(monkeypatch) -> None:
    data = _bomb(MAX_UNCOMPRESSED + 64 * 1024 * 1024)
    assert len(data) < 2 * 1024 * 1024  # small on disk

    def never(*args: object, **kw: object) -> None:
        raise AssertionError("openpyxl opened the bomb")

    monkeypatch.setattr("openpyxl.load_workbook", never)
    with pytest.raises(ImportFileError, match="expands to 128 MB .* refused unread"):
        parse_bytes("accounts.xlsx", data)


def test_an_xlsx_with_too_many_rows_stops_at_the_limit() -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(["workspace_id", "label"])
    for n in range(1, 5003):
        sheet.append([n, f"Toko {n}"])
    buf = io.BytesIO()
    book.save(buf)
    with pytest.raises(ImportFileError, match="more than 5000 rows"):
        parse_bytes("accounts.xlsx", buf.getvalue())


def test_a_file_that_is_not_a_workbook_says_so() -> None:
    with pytest.raises(ImportFileError, match="not an Excel workbook"):
        parse_bytes("accounts.xlsx", b"workspace_id,label\n1,Toko\n")
