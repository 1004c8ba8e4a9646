"""Instances: one card per instance with CPU and memory sparklines (painted by hand).

Cards turn amber above `HOT` (80 %) CPU or sessions against capacity. The
sparklines cover the last ten minutes of `InstancesModel.history`.
"""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPaintEvent, QPen
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.operator import text as fmt
from app.ui import theme
from app.ui.instances_model import HISTORY, InstancesModel

HOT = 80.0


class Sparkline(QWidget):
    """A filled line over the last ten minutes; values are scaled to `ceiling`."""

    def __init__(self, color: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.color = color
        self.points: list[tuple[datetime, float]] = []
        self.ceiling = 100.0
        self.setMinimumHeight(56)

    def set_points(self, points: list[tuple[datetime, float]], ceiling: float) -> None:
        self.points, self.ceiling = points, max(ceiling, 1e-9)
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = QRectF(self.rect()).adjusted(1, 4, -1, -1)
        grid = QColor(theme.GREY)
        grid.setAlpha(60)
        p.setPen(QPen(grid, 1, Qt.PenStyle.DashLine))
        for frac in (0.0, 0.5, 1.0):
            y = r.top() + r.height() * frac
            p.drawLine(QPointF(r.left(), y), QPointF(r.right(), y))
        if len(self.points) >= 2:
            end = fmt.now()
            span = HISTORY.total_seconds()
            path = QPainterPath()
            for k, (at, value) in enumerate(self.points):
                x = r.right() - (end - at).total_seconds() / span * r.width()
                y = r.bottom() - min(1.0, value / self.ceiling) * r.height()
                if k == 0:
                    path.moveTo(max(r.left(), x), y)
                else:
                    path.lineTo(max(r.left(), x), y)
            fill = QPainterPath(path)
            fill.lineTo(path.currentPosition().x(), r.bottom())
            fill.lineTo(path.elementAt(0).x, r.bottom())
            fill.closeSubpath()
            shade = QColor(self.color)
            shade.setAlpha(50)
            p.fillPath(fill, shade)
            p.setPen(QPen(QColor(self.color), 2))
            p.drawPath(path)
        p.end()


class InstanceCard(QFrame):
    """One instance: CPU and memory sparklines, capacity bar, uptime, restarts, actions.

    Signals:
        sig_restart_requested(str): "Restart" (instance id).
        sig_log_requested(str): "Show log" (instance id).
    """

    sig_restart_requested = Signal(str)
    sig_log_requested = Signal(str)

    def __init__(self, instance_id: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.instance_id = instance_id
        self.setObjectName("Card")
        self.setMinimumWidth(380)
        self.title = QLabel(instance_id)
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        self.title.setFont(font)
        self.status = QLabel()
        self.cpu_label = QLabel()
        self.cpu = Sparkline(theme.BLUE)
        self.mem_label = QLabel()
        self.mem = Sparkline("#7c3aed")
        self.capacity_label = QLabel()
        self.capacity = QProgressBar()
        self.capacity.setTextVisible(False)
        self.capacity.setFixedHeight(10)
        self.meta = QLabel()
        self.meta.setProperty("muted", True)
        self.meta.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.why = QLabel()
        self.why.setWordWrap(True)
        self.why.setStyleSheet(f"color: {theme.RED};")
        self.why.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.why.setVisible(False)
        restart = QPushButton("Restart instance")
        restart.clicked.connect(lambda: self.sig_restart_requested.emit(self.instance_id))
        self.show_log = QPushButton("Show log")
        self.show_log.clicked.connect(lambda: self.sig_log_requested.emit(self.instance_id))
        top = QHBoxLayout()
        top.addWidget(self.title)
        top.addStretch(1)
        top.addWidget(self.status)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 14, 18, 14)
        layout.addLayout(top)
        layout.addWidget(self.cpu_label)
        layout.addWidget(self.cpu)
        layout.addWidget(self.mem_label)
        layout.addWidget(self.mem)
        layout.addWidget(self.capacity_label)
        layout.addWidget(self.capacity)
        layout.addWidget(self.meta)
        layout.addWidget(self.why)
        actions = QHBoxLayout()
        actions.addStretch(1)
        actions.addWidget(self.show_log)
        actions.addWidget(restart)
        layout.addLayout(actions)

    def refresh(self, model: InstancesModel) -> None:
        info = model.info_for(self.instance_id)
        if info is None:
            return
        history = list(model.history.get(self.instance_id, ()))
        load = info.sessions_total / info.capacity * 100 if info.capacity else 0.0
        hot = info.cpu_percent > HOT or load > HOT
        alive = "running" if info.alive else "down"
        since = model.down_since.get(self.instance_id)
        if not info.alive and since is not None:
            ago = fmt.duration(fmt.age_seconds(since)) or "0 s"
            alive = f"down since {since.astimezone():%H:%M:%S} ({ago})"
        elif not info.alive and not info.last_error:
            alive = "starting"
        color = theme.RED if not info.alive else theme.AMBER if hot else theme.GREEN
        self.status.setText(f"● {alive}" + ("  ·  busy" if hot and info.alive else ""))
        self.status.setStyleSheet(f"color: {color}; font-weight: 600;")
        self.setStyleSheet(f"QFrame#Card {{ border: 2px solid {theme.AMBER}; }}" if hot else "")
        self.cpu_label.setText(f"CPU  {info.cpu_percent:.0f}%   (last 10 min)")
        self.cpu.set_points([(t, c) for t, c, _m in history], 100.0)
        peak = max([m for _t, _c, m in history] + [info.memory_bytes, 1])
        shown_peak = f"peak {fmt.size(peak)}" if peak > 1 else "no sample yet"
        self.mem_label.setText(f"Memory  {fmt.size(info.memory_bytes)}   ({shown_peak})")
        self.mem.set_points([(t, float(m)) for t, _c, m in history], peak * 1.15)
        self.capacity_label.setText(
            f"Sessions  {info.sessions_total} of {info.capacity}  "
            f"({info.sessions_connected} connected)"
        )
        self.capacity.setRange(0, max(1, info.capacity))
        self.capacity.setValue(min(info.sessions_total, info.capacity))
        uptime = fmt.duration(fmt.age_seconds(info.started_at)) if info.alive else ""
        self.meta.setText(
            f"up {uptime or '-'}   ·   restarts {info.restarts}   ·   pid {info.pid or '-'}\n"
            f"{info.url or 'no URL yet'}" + (f"\n{info.lease_health}" if info.lease_health else "")
        )
        # Why it is down, in the card itself (not only in a tooltip or stderr).
        self.why.setVisible(not info.alive and bool(info.last_error))
        self.why.setText(f"Why: {info.last_error}" if info.last_error else "")


class InstancesView(QWidget):
    """All instance cards plus "Add instance".

    Signals:
        sig_restart_requested(str): restart this instance.
        sig_log_requested(str): show this instance's log.
        sig_add_requested(): add an instance.
    """

    sig_restart_requested = Signal(str)
    sig_log_requested = Signal(str)
    sig_add_requested = Signal()

    def __init__(self, model: InstancesModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._model = model
        self._cards: dict[str, InstanceCard] = {}
        header = QHBoxLayout()
        self.summary = QLabel()
        self.summary.setProperty("muted", True)
        add = QPushButton("Add instance")
        add.clicked.connect(self.sig_add_requested)
        header.addWidget(self.summary, 1)
        header.addWidget(add)
        host = QWidget()
        self._grid = QGridLayout(host)
        self._grid.setSpacing(16)
        self._grid.setAlignment(Qt.AlignmentFlag.AlignTop)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(host)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 16)
        layout.addLayout(header)
        layout.addWidget(scroll, 1)
        model.rowsInserted.connect(self._on_model_changed)
        model.modelReset.connect(self._on_model_changed)
        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()
        self._on_model_changed()

    def cards(self) -> dict[str, InstanceCard]:
        return dict(self._cards)

    @Slot()
    def _on_model_changed(self, *args: object) -> None:
        for row in range(self._model.rowCount()):
            iid = self._model.info(row).instance_id
            if iid not in self._cards:
                card = InstanceCard(iid)
                card.sig_restart_requested.connect(self.sig_restart_requested)
                card.sig_log_requested.connect(self.sig_log_requested)
                self._cards[iid] = card
                k = len(self._cards) - 1
                self._grid.addWidget(card, k // 2, k % 2)
        self.refresh()

    @Slot()
    def refresh(self) -> None:
        for card in self._cards.values():
            card.refresh(self._model)
        cpu, mem = self._model.total_load()
        self.summary.setText(
            f"{len(self._cards)} instances  ·  CPU {cpu:.0f}% total  ·  "
            f"{fmt.size(mem) or '0 B'} in use"
        )
