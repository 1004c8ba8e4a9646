"""A pairing code as the customer types it: large, grouped, readable over the phone.

`CodeView` takes the place of the QR (same square) while an account links by
phone number: "Enter this code on the phone", the 8 characters as
`K7Q2-M9XD` in a large monospace face, and the number the code is for. Each
character is also spoken out in the tooltip (NATO-style words are left to the
operator; the font already keeps 8/B and 1/I apart, and the real codes never
use 0, I, O or U).
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontDatabase, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.domain.events import format_pairing_code
from app.operator import text as fmt


class CodeView(QWidget):
    """Paints a pairing code on white in a square of `side` pixels."""

    def __init__(self, side: int = 280, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._code = ""
        self._phone = ""
        self._overlay = ""
        self._side = side
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.setFixedSize(side, side)
        self.setAccessibleName("Pairing code")

    def set_code(self, code: str, phone: str) -> None:
        if (code, phone) != (self._code, self._phone):
            self._code, self._phone = code, phone
            shown = format_pairing_code(code)
            self.setToolTip(f"{shown} for {fmt.phone(phone)}" if code else "")
            self.setAccessibleDescription(" ".join(shown))
            self.update()

    def set_overlay(self, text: str) -> None:
        if text != self._overlay:
            self._overlay = text
            self.update()

    def code(self) -> str:
        return self._code

    def sizeHint(self) -> QSize:
        return QSize(self._side, self._side)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("white"))
        painter.setPen(QColor("#111827"))
        w, h = self.width(), self.height()
        base = QFont(self.font())
        caption = QFont(base)
        caption.setPointSizeF(base.pointSizeF() * 1.15)
        painter.setFont(caption)
        painter.drawText(
            QRectF(8, h * 0.12, w - 16, h * 0.16),
            int(Qt.AlignmentFlag.AlignCenter),
            "Enter this code on the phone",
        )
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        mono.setBold(True)
        mono.setPixelSize(max(12, int(w / 7.2)))
        painter.setFont(mono)
        code = format_pairing_code(self._code) if self._code else "…"
        painter.drawText(QRectF(0, h * 0.3, w, h * 0.34), int(Qt.AlignmentFlag.AlignCenter), code)
        painter.setFont(caption)
        painter.setPen(QColor("#374151"))
        painter.drawText(
            QRectF(8, h * 0.66, w - 16, h * 0.2),
            int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap),
            f"for {fmt.phone(self._phone)}\nWhatsApp > Linked devices > Link with phone number",
        )
        if self._overlay:
            painter.fillRect(self.rect(), QColor(255, 255, 255, 225))
            bold = QFont(base)
            bold.setPointSizeF(base.pointSizeF() * 1.4)
            bold.setBold(True)
            painter.setFont(bold)
            painter.setPen(QColor("#374151"))
            painter.drawText(
                self.rect(),
                int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap),
                self._overlay,
            )
        painter.end()
