"""Focus mode: one QR large in the middle, the next one drawn beside it, three more listed.

Keyboard driven: Space skips (sends the account to the back of the queue),
R asks for a new QR (or the QR back from a pairing code), C links the account
by phone number instead (its code shows in place of the QR, large enough to
read out), Esc leaves. As soon as the current QR is scanned
(`pairing`) the view moves on to the next account whose QR is already on
screen (the move is painted at once, the new next QR beside the new current
one in the same pass), so staff never wait for a link to finish; the account just scanned
stays in a line under the QR ("scanned, linking…", then "connected" with the
phone). During onboarding the queue order comes from the run (`set_order`)
and a progress line shows n of N connected, skipped, average time and ETA
(`set_progress`).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.domain.states import SessionState
from app.operator import text as fmt
from app.ui import theme
from app.ui.code_view import CodeView
from app.ui.qr_render import QrView
from app.ui.qr_wall import CountdownBar, countdown_color
from app.ui.qr_wall_model import Phase, QrWallModel

NEXT_QR_PX = 260


class FocusView(QWidget):
    """One account at a time.

    Signals:
        sig_regenerate_requested(str): R pressed (session id).
        sig_pairing_code_requested(str): C pressed (session id): link by phone number.
        sig_skipped(str): Space pressed; the account went to the back of the queue.
        sig_leave_requested(): Esc pressed.
        sig_pause_toggled(): "Pause"/"Resume" pressed (onboarding).
        sig_scan_requested(str, object): "Scan with test phone" (sandbox only): the session
            id and the QrView whose pixels the test phone reads.
    """

    sig_regenerate_requested = Signal(str)
    sig_pairing_code_requested = Signal(str)
    sig_skipped = Signal(str)
    sig_leave_requested = Signal()
    sig_pause_toggled = Signal()
    sig_scan_requested = Signal(str, object)

    def __init__(
        self, model: QrWallModel, parent: QWidget | None = None, *, sandbox: bool = False
    ) -> None:
        super().__init__(parent)
        self._model = model
        self.current_id = ""
        self.last_id = ""
        self._order: list[str] | None = None
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.qr = QrView(460)
        self.code = CodeView(460)
        self.code.hide()
        self.title = QLabel()
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._scale(self.title, 1.6, bold=True)
        self.state_line = QLabel()
        self.state_line.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._scale(self.state_line, 1.9, bold=True)
        self.last_line = QLabel()
        self.last_line.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._scale(self.last_line, 1.2)
        self.bar = CountdownBar()
        self.bar.setFixedWidth(460)
        self.next_list = QLabel()
        self.next_list.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.next_list.setTextFormat(Qt.TextFormat.RichText)
        self._scale(self.next_list, 1.15)
        self.next_list.setMinimumWidth(260)
        # The next account's QR, already drawn and scannable: when the current one is
        # scanned, staff turn the next phone to this one without waiting for anything.
        self.next_title = QLabel()
        self._scale(self.next_title, 1.05, bold=True)
        self.next_qr = QrView(NEXT_QR_PX)
        self.next_id = ""
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.progress_line = QLabel()
        self.progress_line.setVisible(False)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setVisible(False)
        self.pause_button.clicked.connect(self.sig_pause_toggled)
        self.scan_button = QPushButton("Scan with test phone")
        self.scan_button.setToolTip("Sandbox only: the test phone reads this QR from the screen")
        self.scan_button.setVisible(sandbox)
        self.scan_button.clicked.connect(self._on_scan_clicked)
        hint = QLabel(
            "Space  skip      R  new QR      C  by phone number      Esc  leave focus mode"
        )
        hint.setProperty("muted", True)
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)

        center = QVBoxLayout()
        center.addStretch(1)
        center.addWidget(self.title)
        center.addWidget(self.qr, 0, Qt.AlignmentFlag.AlignHCenter)
        center.addWidget(self.code, 0, Qt.AlignmentFlag.AlignHCenter)
        center.addWidget(self.bar, 0, Qt.AlignmentFlag.AlignHCenter)
        center.addWidget(self.state_line)
        center.addWidget(self.last_line)
        center.addWidget(self.scan_button, 0, Qt.AlignmentFlag.AlignHCenter)
        center.addStretch(1)
        center.addWidget(hint)
        side = QVBoxLayout()
        up_next = QLabel("Next in line")
        self._scale(up_next, 1.1, bold=True)
        side.addWidget(up_next)
        side.addWidget(self.next_title)
        side.addWidget(self.next_qr, 0, Qt.AlignmentFlag.AlignLeft)
        side.addWidget(self.next_list, 1)
        side.addWidget(self.progress_line)
        side.addWidget(self.progress)
        side.addWidget(self.pause_button)
        row = QHBoxLayout(self)
        row.setContentsMargins(32, 24, 32, 24)
        row.addLayout(center, 3)
        row.addSpacing(24)
        row.addLayout(side, 1)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

        model.rowsInserted.connect(self._on_model_changed)
        model.rowsRemoved.connect(self._on_model_changed)
        model.rowsMoved.connect(self._on_model_changed)
        model.dataChanged.connect(self._on_model_changed)
        self._timer = QTimer(self)
        self._timer.setInterval(200)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()
        self.refresh()

    @Slot()
    def _on_scan_clicked(self) -> None:
        if self.current_id and self.qr.isVisible():
            self.sig_scan_requested.emit(self.current_id, self.qr)

    @staticmethod
    def _scale(label: QLabel, factor: float, bold: bool = False) -> None:
        font = label.font()
        font.setPointSizeF(font.pointSizeF() * factor)
        font.setBold(bold)
        label.setFont(font)

    def set_progress(self, done: int, total: int, text: str, paused: bool) -> None:
        """Show onboarding progress (hidden while `total` is 0)."""
        for w in (self.progress, self.progress_line, self.pause_button):
            w.setVisible(total > 0)
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        self.progress_line.setText(text)
        self.pause_button.setText("Resume" if paused else "Pause")

    # ---------------------------------------------------------------- keys

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key == Qt.Key.Key_Space and self.current_id:
            sid = self.current_id
            self.current_id = ""
            self._model.move_to_end(sid)
            if self._order is not None and sid in self._order:
                self._order.remove(sid)
                self._order.append(sid)
            self.sig_skipped.emit(sid)
            self.refresh()
        elif key == Qt.Key.Key_R and self.current_id:
            self.sig_regenerate_requested.emit(self.current_id)
        elif key == Qt.Key.Key_C and self.current_id:
            self.sig_pairing_code_requested.emit(self.current_id)
        elif key == Qt.Key.Key_Escape:
            self.sig_leave_requested.emit()
        else:
            super().keyPressEvent(event)

    # ------------------------------------------------------------- display

    @Slot()
    def _on_model_changed(self, *args: object) -> None:
        self.refresh()

    def set_order(self, session_ids: list[str] | None) -> None:
        """Follow this queue (onboarding) instead of the wall's order; None: the wall's."""
        self._order = list(session_ids) if session_ids is not None else None
        self.refresh()

    def _queue(self) -> list[str]:
        if self._order is not None:
            return self._order
        return [e.session_id for e in self._model.entries()]

    def _open(self, session_id: str) -> bool:
        """Still to be scanned: not linking, not connected."""
        entry = self._model.entry_for(session_id)
        if entry is None:
            return self._order is not None and not self._model.finished(session_id)
        return entry.phase in (Phase.WAITING, Phase.EXPIRED)

    def _pick(self) -> None:
        if self.current_id and self._open(self.current_id):
            return
        if self.current_id:
            self.last_id = self.current_id
        queue = [s for s in self._queue() if self._open(s)]
        ready = [s for s in queue if self._ready(s)]
        self.current_id = (ready or queue or [""])[0]

    def _ready(self, session_id: str) -> bool:
        entry = self._model.entry_for(session_id)
        shown = entry is not None and bool(entry.qr or entry.code)
        return shown and entry is not None and entry.phase == Phase.WAITING

    def _readiness(self, session_id: str) -> str:
        entry = self._model.entry_for(session_id)
        if not self._ready(session_id):
            return "starting…"
        return "code ready" if entry is not None and entry.code else "QR ready"

    @Slot()
    def refresh(self) -> None:
        shown = (self.qr.qr_text(), self.next_qr.qr_text())
        self._refresh()
        if (self.qr.qr_text(), self.next_qr.qr_text()) != shown and self.isVisible():
            # The move is drawn now, in one pass, not at the next turn of the event loop:
            # the new current QR never shows without the next one already beside it.
            self.next_qr.repaint()
            self.qr.repaint()

    def _refresh(self) -> None:
        self._pick()
        entry = self._model.entry_for(self.current_id) if self.current_id else None
        at = fmt.now()
        by_code = entry is not None and bool(entry.code)
        self.qr.setVisible(not by_code)
        self.code.setVisible(by_code)
        if entry is None and self.current_id:
            self.title.setText(self._name(self.current_id))
            self.qr.set_qr("")
            self.qr.set_overlay("starting…")
            self._state("opening the login page…", theme.GREY)
            self.bar.set_value(0, theme.GREY)
        elif entry is None:
            self.title.setText("All caught up")
            self.qr.set_qr("")
            self.qr.set_overlay("nothing to scan")
            self._state("no account is waiting for a scan", theme.GREY)
            self.bar.set_value(0, theme.GREY)
        else:
            expected = f"  ·  for {fmt.phone(entry.expected_phone)}" if entry.expected_phone else ""
            self.title.setText(
                f"{entry.label or entry.session_id}  ·  ws {entry.workspace_id}{expected}"
            )
            self.qr.set_qr(entry.qr)
            self.code.set_code(entry.code, entry.code_phone)
            remaining = entry.remaining(at)
            if by_code and entry.phase in (Phase.WAITING, Phase.EXPIRED):
                self._code_state(remaining, entry.lifetime())
            elif entry.phase == Phase.CONNECTED:
                self.qr.set_overlay(f"✓ connected\n{fmt.phone(entry.phone)}")
                self._state(f"connected  {fmt.phone(entry.phone)}", theme.GREEN)
                self.bar.set_value(1, theme.GREEN)
            elif entry.phase == Phase.LINKING:
                self.qr.set_overlay("scanned\nlinking…")
                self._state("scanned, linking…", theme.STATE_COLORS[SessionState.PAIRING])
                self.bar.set_value(1, theme.STATE_COLORS[SessionState.PAIRING])
            elif entry.phase == Phase.EXPIRED or remaining <= 0:
                self.qr.set_overlay("refreshing…", expired=True)
                self._state("QR expired, a new one is coming…", theme.GREY)
                self.bar.set_value(0, theme.GREY)
            else:
                self.qr.set_overlay("")
                color = countdown_color(remaining)
                self._state(f"waiting for scan  ·  {fmt.countdown(remaining)}", color)
                self.bar.set_value(remaining / entry.lifetime(), color)
        self._show_last()
        self._show_next()

    def _code_state(self, remaining: float, lifetime: float) -> None:
        if remaining <= 0:
            self.code.set_overlay("a new code is coming…")
            self._state("code expired, a new one is coming…", theme.GREY)
            self.bar.set_value(0, theme.GREY)
            return
        self.code.set_overlay("")
        color = countdown_color(remaining)
        self._state(
            f"read the code to the customer  ·  new code in {fmt.countdown(remaining)}", color
        )
        self.bar.set_value(remaining / lifetime, color)

    def _name(self, session_id: str) -> str:
        return self._model.label_of(session_id) or session_id

    def _show_last(self) -> None:
        entry = self._model.entry_for(self.last_id) if self.last_id else None
        if entry is None or self.last_id == self.current_id:
            self.last_line.setText("")
            return
        name = self._name(self.last_id)
        if entry.phase == Phase.CONNECTED:
            took = entry.took()
            when = f"  in {fmt.duration(took)}" if took is not None else ""
            text, color = f"✓ {name} connected  {fmt.phone(entry.phone)}{when}", theme.GREEN
        elif entry.phase == Phase.LINKING:
            text, color = f"{name}: scanned, linking…", theme.STATE_COLORS[SessionState.PAIRING]
        elif entry.phase == Phase.PASSKEY:
            text = f"{name}: passkey needed, open it in a window from the wall"
            color = theme.STATE_COLORS[SessionState.PASSKEY_REQUIRED]
        elif entry.phase == Phase.BLOCKED:
            text, color = f"{name}: {entry.message.split('.')[0]}", theme.RED
        else:
            text, color = "", theme.GREY
        self.last_line.setText(text)
        self.last_line.setStyleSheet(f"color: {color};")

    def _state(self, text: str, color: str) -> None:
        self.state_line.setText(text)
        self.state_line.setStyleSheet(f"color: {color};")

    def _show_next(self) -> None:
        queue = [s for s in self._queue() if s != self.current_id and self._open(s)]
        self._show_next_qr(queue)
        queue = [s for s in queue if s != self.next_id]  # drawn above the list already
        upcoming = queue[:3]
        if not upcoming:
            self.next_list.setText("<p>nobody else waiting</p>" if not self.next_id else "")
            return
        items = "".join(
            f"<p><b>{_esc(self._name(s))}</b><br>{self._readiness(s)}</p>" for s in upcoming
        )
        more = len(queue) - len(upcoming)
        self.next_list.setText(items + (f"<p>and {more} more</p>" if more > 0 else ""))

    def _show_next_qr(self, queue: list[str]) -> None:
        """The first account after the current one with its QR ready, drawn beside it."""
        ready = [s for s in queue if self._ready(s) and self._has_qr(s)]
        self.next_id = ready[0] if ready else ""
        entry = self._model.entry_for(self.next_id) if self.next_id else None
        if entry is None:
            self.next_title.setText("")
            self.next_qr.set_qr("")
            self.next_qr.set_overlay("next QR\ncoming…" if queue else "nobody\nwaiting")
            return
        self.next_title.setText(f"then: {entry.label or entry.session_id}")
        self.next_qr.set_qr(entry.qr)
        self.next_qr.set_overlay("")

    def _has_qr(self, session_id: str) -> bool:
        entry = self._model.entry_for(session_id)
        return entry is not None and bool(entry.qr) and not entry.code


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
