"""The QR wall: one tile per account waiting for a scan, reflowed to the window width.

Tiles are views of `QrWallModel` rows: they hold no data of their own and are
refreshed from the model (on `dataChanged` and by a 5 Hz countdown timer).

Colour thresholds: the countdown bar is blue, amber under `AMBER_S`, red under
`RED_S`; an expired ref is washed out under "refreshing…".

A tile switches between the QR and a pairing code ("By phone number…" asks
for one, "Show QR" goes back); a tile whose account meets a gate shows the
operator's message and its one action ("Open in a window" for the passkey,
"Dismiss" for a block, which nothing retries).
"""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QRectF, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QColor, QGuiApplication, QPainter, QPaintEvent, QResizeEvent
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
from app.ui.code_view import CodeView
from app.ui.qr_render import QrView
from app.ui.qr_wall_model import Phase, QrWallModel, WallEntry

AMBER_S = 10.0
RED_S = 5.0
# Room for a 4-px module at the real site's QR version (about 77 modules with the quiet zone).
QR_SIDE = 320
# The denser wall: 3-px modules. They decode from a screenshot shrunk to two thirds at
# any pixel phase (tests/ui/test_wall_density.py); shrunk to half (1.5 px per module)
# they decode only when the code starts on an even pixel, so 4-px modules stay the
# default. 248, not 231: spare white around the code keeps the quiet zone clean.
COMPACT_QR_SIDE = 248
MARGIN, COMPACT_MARGIN = 16, 8


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
        sig_regenerate_requested(str): the operator asked for a fresh QR (or the QR back).
        sig_pairing_code_requested(str): "By phone number…" (link with a pairing code).
        sig_code_entry_requested(str, str, str): "Enter code on test phone" (session id,
            code, phone; sandbox only).
        sig_window_requested(str): "Open in a window" (the passkey gate).
        sig_dismiss_requested(str): "Dismiss" (a block's message was read).
    """

    sig_scan_requested = Signal(str, object)
    sig_regenerate_requested = Signal(str)
    sig_pairing_code_requested = Signal(str)
    sig_code_entry_requested = Signal(str, str, str)
    sig_window_requested = Signal(str)
    sig_dismiss_requested = Signal(str)

    def __init__(self, session_id: str, *, sandbox: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session_id = session_id
        self._code = ("", "")
        self.setObjectName("Card")
        self.setFixedWidth(QR_SIDE + 2 * MARGIN)
        self.qr = QrView(QR_SIDE)
        self.code = CodeView(QR_SIDE)
        self.code.hide()
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.hide()
        self.title = QLabel()
        self.title.setWordWrap(True)
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        font.setBold(True)
        self.title.setFont(font)
        self.expected = QLabel()  # "for +62 811…": the phone the account should be linked with
        self.expected.setProperty("muted", True)
        self.expected.hide()
        self.status = QLabel()
        self.bar = CountdownBar()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(MARGIN, MARGIN, MARGIN, 14)
        layout.setSpacing(8)
        self._layout = layout
        layout.addWidget(self.qr, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.code, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.title)
        layout.addWidget(self.expected)
        layout.addWidget(self.status)
        layout.addWidget(self.message)
        layout.addWidget(self.bar)
        buttons = QHBoxLayout()
        self.scan_button: QPushButton | None = None
        self.enter_button: QPushButton | None = None
        if sandbox:
            # Short: three buttons share a tile (a compact one too) without clipping words.
            self.scan_button = QPushButton("Test scan")
            self.scan_button.setToolTip(
                "Scan with test phone (sandbox only): decode this QR from the screen and scan it"
            )
            self.scan_button.clicked.connect(self._on_scan_button_clicked)
            buttons.addWidget(self.scan_button)
            self.enter_button = QPushButton("Enter on test phone")
            self.enter_button.setToolTip("Sandbox only: the test phone types this pairing code")
            self.enter_button.clicked.connect(self._on_enter_button_clicked)
            buttons.addWidget(self.enter_button)
        self.regen_button = QPushButton("New QR")
        self.regen_button.setToolTip("Ask for a fresh QR code (R in focus mode)")
        self.regen_button.clicked.connect(self._on_regen_button_clicked)
        buttons.addWidget(self.regen_button)
        self.phone_button = QPushButton("By phone…")
        self.phone_button.setToolTip(
            "Link with phone number: show an 8-character code to read out to the customer "
            "(C in focus mode)"
        )
        self.phone_button.clicked.connect(self._on_phone_button_clicked)
        buttons.addWidget(self.phone_button)
        self.copy_button = QPushButton("Copy code")
        self.copy_button.clicked.connect(self._on_copy_button_clicked)
        buttons.addWidget(self.copy_button)
        self.window_button = QPushButton("Open in a window")
        self.window_button.setToolTip(
            "Show this account's login in a browser window on this screen, where the "
            "customer confirms with the passkey on their phone"
        )
        self.window_button.clicked.connect(self._on_window_button_clicked)
        buttons.addWidget(self.window_button)
        self.dismiss_button = QPushButton("Dismiss")
        self.dismiss_button.clicked.connect(self._on_dismiss_button_clicked)
        buttons.addWidget(self.dismiss_button)
        layout.addLayout(buttons)

    @Slot()
    def _on_scan_button_clicked(self) -> None:
        self.sig_scan_requested.emit(self.session_id, self.qr)

    @Slot()
    def _on_enter_button_clicked(self) -> None:
        self.sig_code_entry_requested.emit(self.session_id, *self._code)

    @Slot()
    def _on_regen_button_clicked(self) -> None:
        self.sig_regenerate_requested.emit(self.session_id)

    @Slot()
    def _on_phone_button_clicked(self) -> None:
        self.sig_pairing_code_requested.emit(self.session_id)

    @Slot()
    def _on_copy_button_clicked(self) -> None:
        QGuiApplication.clipboard().setText(self._code[0])
        self._status("code copied", theme.GREEN)

    @Slot()
    def _on_window_button_clicked(self) -> None:
        self.sig_window_requested.emit(self.session_id)

    @Slot()
    def _on_dismiss_button_clicked(self) -> None:
        self.sig_dismiss_requested.emit(self.session_id)

    def set_compact(self, compact: bool) -> None:
        """The denser wall's size: a smaller code, tighter margins, the same actions."""
        side, margin = (COMPACT_QR_SIDE, COMPACT_MARGIN) if compact else (QR_SIDE, MARGIN)
        self.qr.set_side(side)
        self.code.setFixedSize(side, side)
        self._layout.setContentsMargins(margin, margin, margin, margin)
        self._layout.setSpacing(4 if compact else 8)
        self.setFixedWidth(side + 2 * margin)

    def refresh(self, entry: WallEntry, at: datetime) -> None:
        """Show `entry` as of `at`."""
        self.title.setText(f"{entry.label or entry.session_id}  ·  ws {entry.workspace_id}")
        expected = entry.expected_phone and entry.phase != Phase.CONNECTED
        self.expected.setText(f"for {fmt.phone(entry.expected_phone)}" if expected else "")
        self.expected.setVisible(bool(expected))
        self.qr.set_qr(entry.qr)
        by_code = bool(entry.code) and not entry.needs_operator
        self._code = (entry.code, entry.code_phone)
        self.code.set_code(entry.code, entry.code_phone)
        self.qr.setVisible(not by_code)
        self.code.setVisible(by_code)
        self.message.setText(entry.message)
        self.message.setVisible(entry.needs_operator and bool(entry.message))
        remaining = entry.remaining(at)
        scannable = entry.phase == Phase.WAITING and remaining > 0
        waiting = entry.phase in (Phase.WAITING, Phase.EXPIRED)
        self._buttons(entry, scannable, waiting, by_code)
        if entry.phase == Phase.PASSKEY:
            self.qr.set_overlay("passkey needed", expired=True)
            self._status(
                "waiting for the passkey", theme.STATE_COLORS[SessionState.PASSKEY_REQUIRED]
            )
            self.bar.set_value(1.0, theme.STATE_COLORS[SessionState.PASSKEY_REQUIRED])
        elif entry.phase == Phase.BLOCKED:
            self.qr.set_overlay(entry.gate or "not linked", expired=True)
            self._status("stopped: needs an operator", theme.RED)
            self.bar.set_value(0.0, theme.RED)
        elif by_code:
            self._code_state(entry, remaining)
        elif entry.phase == Phase.CONNECTED:
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

    def _code_state(self, entry: WallEntry, remaining: float) -> None:
        if entry.phase in (Phase.LINKING, Phase.CONNECTED):
            self.code.set_overlay("✓ code entered\nlinking…")
            self._status("code entered, linking…", theme.STATE_COLORS[SessionState.PAIRING])
            self.bar.set_value(1.0, theme.STATE_COLORS[SessionState.PAIRING])
        elif remaining <= 0:
            self.code.set_overlay("a new code is coming…")
            self._status("code expired, renewing…", theme.GREY)
            self.bar.set_value(0.0, theme.GREY)
        else:
            self.code.set_overlay("")
            color = countdown_color(remaining)
            self._status(f"new code in {fmt.countdown(remaining)}", color)
            self.bar.set_value(remaining / entry.lifetime(), color)

    def _buttons(self, entry: WallEntry, scannable: bool, waiting: bool, by_code: bool) -> None:
        gate = entry.needs_operator
        if self.scan_button is not None:
            self.scan_button.setVisible(not by_code and not gate)
            self.scan_button.setEnabled(scannable)
        if self.enter_button is not None:
            self.enter_button.setVisible(by_code and not gate)
            self.enter_button.setEnabled(scannable)
        self.regen_button.setText("Show QR" if by_code else "New QR")
        self.regen_button.setVisible(not gate)
        self.regen_button.setEnabled(waiting)
        self.phone_button.setVisible(not by_code and not gate)
        self.phone_button.setEnabled(waiting)
        self.copy_button.setVisible(by_code and not gate)
        self.window_button.setVisible(entry.phase == Phase.PASSKEY)
        self.dismiss_button.setVisible(entry.phase == Phase.BLOCKED)

    def _status(self, text: str, color: str) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(f"color: {color}; font-weight: 600;")


class QrWallView(QWidget):
    """The wall of tiles.

    Signals:
        sig_scan_requested(str, object): a tile's "Scan with test phone" (id, QrView).
        sig_regenerate_requested(str): a tile asked for a new QR.
        sig_pairing_code_requested(str): a tile's "By phone…".
        sig_code_entry_requested(str, str, str): a tile's "Enter on test phone".
        sig_window_requested(str): a tile's "Open in a window".
        sig_focus_requested(): "Focus mode" pressed.
    """

    sig_scan_requested = Signal(str, object)
    sig_regenerate_requested = Signal(str)
    sig_pairing_code_requested = Signal(str)
    sig_code_entry_requested = Signal(str, str, str)
    sig_window_requested = Signal(str)
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
        self.compact = QPushButton("Compact tiles")
        self.compact.setCheckable(True)
        self.compact.setToolTip("Smaller tiles, more on screen; the codes still scan")
        self.compact.toggled.connect(self._on_compact_toggled)
        header.addWidget(self.summary, 1)
        header.addWidget(self.compact)
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
        gates = sum(1 for e in self._model.entries() if e.needs_operator)
        linking = self._model.rowCount() - waiting - gates
        self.summary.setText(
            f"{waiting} waiting for a scan"
            + (f"  ·  {linking} linking or just linked" if linking else "")
            + (f"  ·  {gates} need an operator" if gates else "")
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
                tile.set_compact(self.compact.isChecked())
                tile.sig_scan_requested.connect(self.sig_scan_requested)
                tile.sig_regenerate_requested.connect(self.sig_regenerate_requested)
                tile.sig_pairing_code_requested.connect(self.sig_pairing_code_requested)
                tile.sig_code_entry_requested.connect(self.sig_code_entry_requested)
                tile.sig_window_requested.connect(self.sig_window_requested)
                tile.sig_dismiss_requested.connect(self._model.dismiss)
                self._tiles[sid] = tile
        self._columns = 0
        self._reflow()
        self._empty.setVisible(not ids)
        self._scroll.setVisible(bool(ids))
        self.refresh()

    def _reflow(self) -> None:
        width = max(1, self._scroll.viewport().width())
        spacing = self._grid.spacing()
        side, margin = (
            (COMPACT_QR_SIDE, COMPACT_MARGIN) if self.compact.isChecked() else (QR_SIDE, MARGIN)
        )
        columns = max(1, (width + spacing) // (side + 2 * margin + spacing))
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

    @Slot(bool)
    def _on_compact_toggled(self, compact: bool) -> None:
        self._grid.setSpacing(10 if compact else 16)
        for tile in self._tiles.values():
            tile.set_compact(compact)
        self._columns = 0
        self._reflow()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._reflow()
