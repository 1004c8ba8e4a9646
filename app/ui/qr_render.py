"""Crisp QR codes: the symbol from `app.domain.qr`, one image pixel per module.

`QrView` sizes each module to a whole number of *device* pixels (so the code
stays sharp at 125 % or 150 % scaling), keeps the 4-module quiet zone, and is
always black on white. When the ref has expired it paints the code washed out
under a "refreshing" label, so an old code never looks scannable. A text no
QR can hold (longer than a version-40 symbol at error correction M; no real
login QR comes near) is said in words instead of painted.
"""

from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.domain.qr import QUIET_ZONE, qr_luminance

UNDRAWABLE = "This QR is too long to draw. Press New QR; if it stays, restart the account."


@lru_cache(maxsize=256)
def _module_image(text: str) -> QImage:
    """One pixel per module, quiet zone included; `QrView` scales it without smoothing."""
    side, pixels = qr_luminance(text, QUIET_ZONE)
    # copy(): the image owns its pixels, not the bytes object that goes away
    return QImage(pixels, side, side, side, QImage.Format.Format_Grayscale8).copy()


def forget_images() -> None:
    """Drop the cached module images (before the QApplication goes away)."""
    _module_image.cache_clear()


class QrView(QWidget):
    """Paints one QR string as a square, or a placeholder message when there is none."""

    def __init__(self, side: int = 280, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._text = ""
        self._expired = False
        self._overlay = ""
        self._side = side
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.setFixedSize(side, side)
        self.setAccessibleName("Login QR code")

    def set_side(self, side: int) -> None:
        self._side = side
        self.setFixedSize(side, side)
        self.update()

    def set_qr(self, text: str) -> None:
        if text != self._text:
            self._text = text
            self.update()

    def set_overlay(self, text: str, *, expired: bool = False) -> None:
        """Wash the code out and show `text` over it ('' shows the code normally)."""
        if (text, expired) != (self._overlay, self._expired):
            self._overlay, self._expired = text, expired
            self.update()

    def qr_text(self) -> str:
        return self._text

    def sizeHint(self) -> QSize:
        return QSize(self._side, self._side)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("white"))
        overlay = self._overlay
        if self._text:
            try:
                self._paint_code(painter)
            except ValueError:  # no QR holds this text (the encoder said why)
                overlay = UNDRAWABLE
        if overlay or not self._text:
            painter.fillRect(self.rect(), QColor(255, 255, 255, 225 if self._text else 255))
            font = QFont(self.font())
            font.setPointSizeF(font.pointSizeF() * 1.4)
            font.setBold(True)
            painter.setFont(font)
            painter.setPen(QColor("#374151"))
            painter.drawText(
                self.rect(),
                int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap),
                overlay or "waiting for QR…",
            )
        painter.end()

    def _paint_code(self, painter: QPainter) -> None:
        image = _module_image(self._text)
        n = image.width()
        dpr = self.devicePixelRatioF()
        device_side = int(min(self.width(), self.height()) * dpr)
        module = max(1, device_side // n)  # whole device pixels per module
        logical = module * n / dpr
        x = round((self.width() - logical) / 2 * dpr) / dpr  # on a device-pixel boundary
        y = round((self.height() - logical) / 2 * dpr) / dpr
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.drawImage(QRectF(x, y, logical, logical), image, QRect(0, 0, n, n))
