"""The Onboard view says what the CLI says: no data rows, unnamed rows, refused workbooks."""

from __future__ import annotations

import io
import zipfile

from PySide6.QtCore import Qt

from app.domain.sheet_files import MAX_UNCOMPRESSED
from app.ui.onboarding_view import CHECK_COL, OnboardingView


def test_a_header_only_paste_says_no_data_rows(qtbot) -> None:
    view = OnboardingView()
    qtbot.addWidget(view)
    view.load_text("workspace_id,label,phone\n")
    assert "no data rows" in view.message.text()
    assert "ready" not in view.message.text()
    assert not view.start.isEnabled()


def test_a_row_without_label_or_phone_is_ready_with_a_warning(qtbot) -> None:
    view = OnboardingView()
    qtbot.addWidget(view)
    view.load_text("workspace_id,label,phone\n1,Toko,\n2,,\n")
    model = view.model
    assert model.data(model.index(0, CHECK_COL)) == "✓ ready"
    warned = model.data(model.index(1, CHECK_COL))
    assert warned.startswith("✓ ready, no label and no phone")
    assert "hard to find later" in model.data(
        model.index(1, CHECK_COL), Qt.ItemDataRole.ToolTipRole
    )
    assert "1 without label or phone" in view.message.text()
    assert view.start.text() == "Start scanning 2 accounts"


def test_an_xlsx_bomb_is_refused_with_one_line(qtbot) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
            chunk = b"<row/>" * 200_000
            for _ in range(MAX_UNCOMPRESSED // len(chunk) + 2):
                sheet.write(chunk)
    view = OnboardingView()
    qtbot.addWidget(view)
    view.load_bytes("accounts.xlsx", buf.getvalue())
    assert "refused unread" in view.message.text()
    assert view.model.rowCount() == 0 and not view.start.isEnabled()


def test_a_wrong_phone_shows_in_the_rows_check_cell(qtbot) -> None:
    from app.domain.events import SessionReady
    from app.domain.models import SessionInfo

    view = OnboardingView()
    qtbot.addWidget(view)
    view.load_text("workspace_id,label,phone\n1,Toko,+62 812 1111 2222\n")
    run = view.begin([SessionInfo(session_id="s0", workspace_id=1, phone_number="6281211112222")])
    run.apply(SessionReady(session_id="s0", workspace_id=1, phone_number="6289900001111"))
    view.update_progress()
    cell = view.model.data(view.model.index(0, CHECK_COL))
    assert cell == "wrong phone: expected +62 812 1111 2222, scanned by +62 899 0000 1111"
