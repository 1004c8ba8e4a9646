"""About pairdesk: the icon, the version, and the facts support asks for, with a copy button.

The rows come from `app.operator.about` (Qt-free, so the same facts could be
printed anywhere); this dialog adds the Qt and PySide6 versions it runs on.
Opened from the version button at the right of the status bar, or F1.
"""

from __future__ import annotations

from pathlib import Path

import PySide6
from PySide6.QtCore import Qt, Slot, qVersion
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

import app
from app.config import Settings
from app.operator import about
from app.ui.window_parts import app_icon


class AboutDialog(QDialog):
    """Version and support details; "Copy details" puts them on the clipboard."""

    def __init__(
        self,
        settings: Settings,
        *,
        config_file: Path | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("About pairdesk")
        self.setWindowIcon(app_icon())
        qt = {"Qt": f"{qVersion()} (PySide6 {PySide6.__version__})"}
        self.rows = about.details(settings, config_file=config_file, extra=qt)

        icon = QLabel()
        icon.setPixmap(app_icon().pixmap(96, 96))
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        name = QLabel("pairdesk")
        name.setObjectName("AppName")
        name.setStyleSheet("font-size: 22px;")
        self.version = QLabel(f"Version {app.__version__}")
        self.version.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        blurb = QLabel(about.DESCRIPTION)
        blurb.setWordWrap(True)
        heading = QVBoxLayout()
        heading.addWidget(name)
        heading.addWidget(self.version)
        heading.addWidget(blurb)
        heading.addStretch(1)
        top = QHBoxLayout()
        top.addWidget(icon)
        top.addSpacing(12)
        top.addLayout(heading, 1)

        grid = QGridLayout()
        grid.setHorizontalSpacing(14)
        for row, (label, value) in enumerate(self.rows):
            key = QLabel(label)
            key.setProperty("muted", True)
            text = QLabel(value)
            text.setWordWrap(True)
            text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            grid.addWidget(key, row, 0, Qt.AlignmentFlag.AlignTop)
            grid.addWidget(text, row, 1)
        grid.setColumnStretch(1, 1)

        self.copied = QLabel()
        self.copied.setProperty("muted", True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = QPushButton("Copy details")
        self.copy_button.setToolTip("Copy these lines to paste into a support ticket")
        self.buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.clicked.connect(self._on_copy_button_clicked)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.addLayout(top)
        layout.addSpacing(12)
        layout.addLayout(grid)
        layout.addSpacing(8)
        layout.addWidget(self.copied)
        layout.addWidget(self.buttons)
        self.resize(640, self.sizeHint().height())

    def details_text(self) -> str:
        return about.as_text(self.rows)

    @Slot()
    def _on_copy_button_clicked(self) -> None:
        QGuiApplication.clipboard().setText(self.details_text())
        self.copied.setText("Copied: paste them into the support ticket.")
