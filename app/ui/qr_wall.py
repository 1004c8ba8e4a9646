"""The QR wall: one tile per account waiting for a scan, reflowed to the window width.

Tiles are views of `QrWallModel` rows: they hold no data of their own and are
refreshed from the model (on `dataChanged` and by a 5 Hz countdown timer).

Colour thresholds: the countdown bar is blue, amber under `AMBER_S`, red under
`RED_S`; an expired ref is washed out under "refreshing…".
"""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QRectF, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QResizeEvent
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.domain.states import SessionState
from app.operator import text as fmt
from app.ui import theme
from app.ui.qr_render import QrView
from app.ui.qr_wall_model import Phase, QrWallModel, WallEntry

AMBER_S = 10.0
RED_S = 5.0
# Room for a 4-px module at the real site's QR version (about 77 modules with the quiet zone).
QR_SIDE = 320


def countdown_color(remaining: float) -> str:
    """The bar colour for `remaining` seconds: blue, then amber, then red."""
    if remaining < RED_S:
        return theme.RED
    if remaining < AMBER_S:
        return theme.AMBER
    return theme.BLUE


class CountdownBar(QWidget):
    """A thin bar that shrinks as the ref's lifetime runs out."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.fraction = 1.0
        self.color = theme.BLUE
        self.setFixedHeight(8)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_value(self, fraction: float, color: str) -> None:
        fraction = max(0.0, min(1.0, fraction))
        if (fraction, color) != (self.fraction, self.color):
            self.fraction, self.color = fraction, color
            self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(Qt.PenStyle.NoPen)
        track = QColor(theme.GREY)
        track.setAlpha(70)
        p.setBrush(track)
        r = QRectF(self.rect())
        p.drawRoundedRect(r, 4, 4)
        p.setBrush(QColor(self.color))
        p.drawRoundedRect(QRectF(0, 0, r.width() * self.fraction, r.height()), 4, 4)
        p.end()


class QrTile(QFrame):
    """One account on the wall.

    Signals:
        sig_scan_requested(str, object): "Scan with test phone" (session id, the QrView).
        sig_regenerate_requested(str): the operator asked for a fresh QR.
    """

    sig_scan_requested = Signal(str, object)
    sig_regenerate_requested = Signal(str)

    def __init__(self, session_id: str, *, sandbox: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session_id = session_id
        self.setObjectName("Card")
        self.setFixedWidth(QR_SIDE + 32)
        self.qr = QrView(QR_SIDE)
        self.title = QLabel()
        self.title.setWordWrap(True)
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        font.setBold(True)
        self.title.setFont(font)
        self.status = QLabel()
        self.bar = CountdownBar()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 14)
        layout.setSpacing(8)
        layout.addWidget(self.qr, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.title)
        layout.addWidget(self.status)
        layout.addWidget(self.bar)
        buttons = QHBoxLayout()
        self.scan_button: QPushButton | None = None
        if sandbox:
            self.scan_button = QPushButton("Scan with test phone")
            self.scan_button.setToolTip("Sandbox only: decode this QR from the screen and scan it")
            self.scan_button.clicked.connect(self._on_scan_button_clicked)
            buttons.addWidget(self.scan_button)
        self.regen_button = QPushButton("New QR")
        self.regen_button.setToolTip("Ask for a fresh QR code (R in focus mode)")
        self.regen_button.clicked.connect(self._on_regen_button_clicked)
        buttons.addWidget(self.regen_button)
        layout.addLayout(buttons)

    @Slot()
    def _on_scan_button_clicked(self) -> None:
        self.sig_scan_requested.emit(self.session_id, self.qr)

    @Slot()
    def _on_regen_button_clicked(self) -> None:
        self.sig_regenerate_requested.emit(self.session_id)

    def refresh(self, entry: WallEntry, at: datetime) -> None:
        """Show `entry` as of `at`."""
        self.title.setText(f"{entry.label or entry.session_id}  ·  ws {entry.workspace_id}")
        self.qr.set_qr(entry.qr)
        remaining = entry.remaining(at)
        scannable = entry.phase == Phase.WAITING and remaining > 0
        if entry.phase == Phase.CONNECTED:
            took = entry.took()
            when = f"in {fmt.duration(took)}" if took is not None else ""
            self.qr.set_overlay(f"✓ connected\n{fmt.phone(entry.phone)}\n{when}".strip())
            self._status(f"connected {fmt.phone(entry.phone)} {when}".strip(), theme.GREEN)
            self.bar.set_value(1.0, theme.GREEN)
        elif entry.phase == Phase.LINKING:
            self.qr.set_overlay("scanned\nlinking…")
            self._status("scanned, linking…", theme.STATE_COLORS[SessionState.PAIRING])
            self.bar.set_value(1.0, theme.STATE_COLORS[SessionState.PAIRING])
        elif not scannable:
            self.qr.set_overlay("refreshing…", expired=True)
            self._status("expired, refreshing…", theme.GREY)
            self.bar.set_value(0.0, theme.GREY)
        else:
            self.qr.set_overlay("")
            color = countdown_color(remaining)
            self._status(f"expires in {fmt.countdown(remaining)}", color)
            self.bar.set_value(remaining / entry.lifetime(), color)
        if self.scan_button is not None:
            self.scan_button.setEnabled(scannable)
        self.regen_button.setEnabled(entry.phase in (Phase.WAITING, Phase.EXPIRED))

    def _status(self, text: str, color: str) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(f"color: {color}; font-weight: 600;")


class QrWallView(QWidget):
    """The wall of tiles.

    Signals:
        sig_scan_requested(str, object): a tile's "Scan with test phone" (id, QrView).
        sig_regenerate_requested(str): a tile asked for a new QR.
        sig_focus_requested(): "Focus mode" pressed.
    """

    sig_scan_requested = Signal(str, object)
    sig_regenerate_requested = Signal(str)
    sig_focus_requested = Signal()

    def __init__(self, model: QrWallModel, *, sandbox: bool, parent: QWidget | None = None):
        super().__init__(parent)
        self._model = model
        self._sandbox = sandbox
        self._tiles: dict[str, QrTile] = {}
        self._columns = 0
        header = QHBoxLayout()
        self.summary = QLabel()
        self.summary.setProperty("muted", True)
        focus = QPushButton("Focus mode  (F)")
        focus.clicked.connect(self.sig_focus_requested)
        header.addWidget(self.summary, 1)
        header.addWidget(focus)
        self._empty = QLabel("No account is waiting for a scan.\nAdd accounts in Onboard (Ctrl+4).")
        self._empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._empty.setProperty("muted", True)
        self._grid_host = QWidget()
        self._grid = QGridLayout(self._grid_host)
        self._grid.setSpacing(16)
        self._grid.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignHCenter)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self._grid_host)
        self._scroll = scroll
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 16)
        layout.addLayout(header)
        layout.addWidget(self._empty, 1)
        layout.addWidget(scroll, 1)
        model.rowsInserted.connect(self._on_model_rows_changed)
        model.rowsRemoved.connect(self._on_model_rows_changed)
        model.rowsMoved.connect(self._on_model_rows_changed)
        model.dataChanged.connect(self._on_model_data_changed)
        self._timer = QTimer(self)
        self._timer.setInterval(200)
        self._timer.timeout.connect(self._on_timer_timeout)
        self._timer.start()
        self._sync_tiles()

    def tile(self, session_id: str) -> QrTile | None:
        return self._tiles.get(session_id)

    def tiles(self) -> list[QrTile]:
        return [self._tiles[e.session_id] for e in self._model.entries()]

    @Slot()
    def _on_model_rows_changed(self, *args: object) -> None:
        self._sync_tiles()

    @Slot()
    def _on_model_data_changed(self, *args: object) -> None:
        self.refresh()

    @Slot()
    def _on_timer_timeout(self) -> None:
        self._model.tick()
        if self.isVisible():
            self.refresh()

    def refresh(self) -> None:
        at = fmt.now()
        for entry in self._model.entries():
            tile = self._tiles.get(entry.session_id)
            if tile is not None:
                tile.refresh(entry, at)
        waiting = self._model.waiting_count()
        total = self._model.rowCount()
        self.summary.setText(
            f"{waiting} waiting for a scan"
            + (f"  ·  {total - waiting} linking or just linked" if total - waiting else "")
        )

    def _sync_tiles(self) -> None:
        ids = [e.session_id for e in self._model.entries()]
        for sid in list(self._tiles):
            if sid not in ids:
                tile = self._tiles.pop(sid)
                self._grid.removeWidget(tile)
                tile.deleteLater()
        for sid in ids:
            if sid not in self._tiles:
                tile = QrTile(sid, sandbox=self._sandbox)
                tile.sig_scan_requested.connect(self.sig_scan_requested)
                tile.sig_regenerate_requested.connect(self.sig_regenerate_requested)
                self._tiles[sid] = tile
        self._columns = 0
        self._reflow()
        self._empty.setVisible(not ids)
        self._scroll.setVisible(bool(ids))
        self.refresh()

    def _reflow(self) -> None:
        width = max(1, self._scroll.viewport().width())
        columns = max(1, (width + 16) // (QR_SIDE + 32 + 16))
        if columns == self._columns and self._grid.count() == len(self._tiles):
            return
        self._columns = columns
        while self._grid.count():
            self._grid.takeAt(0)
        for k, entry in enumerate(self._model.entries()):
            tile = self._tiles[entry.session_id]
            self._grid.addWidget(tile, k // columns, k % columns)
            # A widget added to a visible layout is shown only on the next event loop pass;
            # show it now so a screenshot (or a scan) right after the QR arrives sees it.
            tile.show()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._reflow()
