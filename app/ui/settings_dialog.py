"""Settings dialog: every key of `Settings`, validated as you type.

Each field is checked with `Settings.with_overrides` (the same parsers the
file, environment and flags go through), so the dialog can never accept a
value the engine would refuse. Valid changes are written on Save to the
`pairdesk.toml` the settings came from (else the user config folder's), so
a file written by the first-run dialog is edited, never shadowed by a new
one; secrets are write-only (shown as "(set)").
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.config import (
    SECRET_KEYS,
    ConfigError,
    Settings,
    default_config_path,
    find_config_file,
    toml_line,
)
from app.ui import theme


class SettingsDialog(QDialog):
    """Edit settings; `result_settings` holds the validated copy after Save."""

    def __init__(
        self, settings: Settings, parent: QWidget | None = None, *, path: Path | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.settings = settings
        self.path = path or _config_path()
        self.result_settings: Settings | None = None
        self.edits: dict[str, QLineEdit] = {}
        self.errors: dict[str, QLabel] = {}
        form = QFormLayout()
        for f in dataclasses.fields(settings):
            edit = QLineEdit()
            value = getattr(settings, f.name)
            if f.name in SECRET_KEYS:
                edit.setEchoMode(QLineEdit.EchoMode.Password)
                edit.setPlaceholderText("(set)" if value else "(not set)")
            else:
                edit.setText(str(value))
            edit.textChanged.connect(self._on_edit_text_changed)
            error = QLabel()
            error.setStyleSheet(f"color: {theme.RED};")
            error.setWordWrap(True)
            error.hide()
            box = QVBoxLayout()
            box.setSpacing(2)
            box.addWidget(edit)
            box.addWidget(error)
            form.addRow(f.name, box)
            self.edits[f.name] = edit
            self.errors[f.name] = error
        inner = QWidget()
        inner.setLayout(form)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(inner)
        self.note = note = QLabel(f"Changes apply after a restart. Saved to {self.path}.")
        note.setWordWrap(True)
        note.setProperty("muted", True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self._on_buttons_accepted)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(scroll, 1)
        layout.addWidget(note)
        layout.addWidget(self.buttons)
        self.resize(640, 720)

    def changes(self) -> dict[str, str]:
        out = {}
        for name, edit in self.edits.items():
            text = edit.text()
            if name in SECRET_KEYS:
                if text:
                    out[name] = text
            elif text != str(getattr(self.settings, name)):
                out[name] = text
        return out

    def validate(self) -> Settings | None:
        """Check every changed field on its own; return the new settings when all are valid."""
        ok = True
        for error in self.errors.values():
            error.hide()
        for name, value in self.changes().items():
            try:
                self.settings.with_overrides(**{name: value})
            except ConfigError as exc:
                ok = False
                self.errors[name].setText(str(exc).split(": ", 1)[-1])
                self.errors[name].show()
        save = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        save.setEnabled(ok)
        return self.settings.with_overrides(**self.changes()) if ok else None

    @Slot()
    def _on_edit_text_changed(self) -> None:
        self.validate()

    @Slot()
    def _on_buttons_accepted(self) -> None:
        new = self.validate()
        if new is None:
            return
        self.result_settings = new
        changes = {k: v for k, v in self.changes().items() if k not in SECRET_KEYS}
        if changes:
            path = self.path
            path.parent.mkdir(parents=True, exist_ok=True)
            lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
            for key in changes:
                lines = [ln for ln in lines if not ln.strip().startswith(f"{key} ")]
                lines.append(toml_line(key, getattr(new, key)))
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.accept()


def _config_path() -> Path:
    try:
        found = find_config_file(os.environ, Path.cwd())
    except ConfigError:
        found = None
    return found or default_config_path(os.environ)
