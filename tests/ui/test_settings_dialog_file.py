"""The settings dialog saves into the pairdesk.toml in use, never a second one that shadows it."""

from __future__ import annotations

import tomllib
from pathlib import Path

from app.config import Settings
from app.ui.settings_dialog import SettingsDialog


def test_saving_edits_the_file_the_settings_came_from(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "pairdesk.toml"
    path.parent.mkdir()
    path.write_text('central_url = "https://platform.example.com"\ninstances = 2\n')
    settings = Settings.load(environ={}, config_file=path, cwd=tmp_path)
    dialog = SettingsDialog(settings, path=path)
    qtbot.addWidget(dialog)
    assert str(path) in dialog.note.text()
    dialog.edits["instances"].setText("4")
    dialog.buttons.accepted.emit()
    values = tomllib.loads(path.read_text())
    assert values == {"central_url": "https://platform.example.com", "instances": 4}
    assert not (tmp_path / "pairdesk.toml").exists()
