"""The banner area under the header: one banner per problem that stops work.

It shows exactly the list it is given (`app.ui.problems.find_problems`), so
a banner goes away by itself when its cause does. Banners sit above every
view, never over the rows, and hold their text selectable for a support
ticket.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.ui import theme
from app.ui.problems import Problem


class Banner(QFrame):
    def __init__(self, problem: Problem, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.problem = problem
        self.setObjectName("Banner")
        self.setStyleSheet(
            f"QFrame#Banner {{ background: #fef2f2; border-left: 4px solid {theme.RED}; }}"
            " QFrame#Banner QLabel { color: #7f1d1d; }"
        )
        self.label = QLabel(
            f"<b>{escape(problem.what)}.</b> {escape(problem.affects)}. "
            f"<b>What to do:</b> {escape(problem.todo)}."
        )
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 6, 12, 6)
        layout.addWidget(self.label, 1)


class BannerArea(QWidget):
    """Zero or more banners, stacked; hidden when there is none."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._shown: tuple[Problem, ...] = ()
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(1)
        self.setVisible(False)

    def set_problems(self, problems: Sequence[Problem]) -> None:
        wanted = tuple(problems)
        if wanted == self._shown:
            return  # unchanged: no relayout every second
        self._shown = wanted
        while self._layout.count():
            item = self._layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        for problem in wanted:
            self._layout.addWidget(Banner(problem))
        self.setVisible(bool(wanted))

    def problems(self) -> tuple[Problem, ...]:
        return self._shown

    def texts(self) -> list[str]:
        """The banners' plain text, as the operator reads it."""
        return [p.text for p in self._shown]
