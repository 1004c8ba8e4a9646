"""About pairdesk: the version, and support details without secrets, copied in one click."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QGuiApplication

import app
from app.config import Settings
from app.ui.about_dialog import AboutDialog


def test_about_shows_the_version_and_copies_the_details(qtbot, tmp_path: Path) -> None:
    settings = Settings.load(environ={}, cwd=tmp_path).with_overrides(
        database_url="postgresql://pd:hunter2@db/pd", data_dir=str(tmp_path)
    )
    dialog = AboutDialog(settings, config_file=tmp_path / "pairdesk.toml")
    qtbot.addWidget(dialog)
    assert dialog.version.text() == f"Version {app.__version__}"
    dialog.copy_button.click()
    copied = QGuiApplication.clipboard().text()
    assert copied == dialog.details_text()
    assert f"pairdesk       {app.__version__}" in copied
    assert str(tmp_path / "pairdesk.toml") in copied
    assert "Qt" in copied and "PySide6" in copied
    assert "hunter2" not in copied


def test_the_status_bar_shows_the_version_and_opens_about(qtbot, host, settings, monkeypatch):
    from app.ui.main_window import MainWindow

    window = MainWindow(host, settings=settings)
    qtbot.addWidget(window)
    assert window.about_button.text() == f"pairdesk {app.__version__}"
    opened = []
    monkeypatch.setattr(AboutDialog, "exec", lambda self: opened.append(self) or 0)
    window.about_button.click()
    assert len(opened) == 1 and opened[0].parent() is window
