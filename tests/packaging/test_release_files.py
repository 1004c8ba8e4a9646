"""Release files agree with each other and with the one version number."""

from __future__ import annotations

import ast
import configparser
import re
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

import app
from app.ui.app import DESKTOP_FILE

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"
APP_ID = "io.pairdesk.Pairdesk"


def test_the_version_is_written_once() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"]
    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "app.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", app.__version__)


def test_changelog_and_metainfo_describe_this_version_with_the_same_date() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text()
    top = re.search(r"^## (\S+) - (\d{4}-\d{2}-\d{2})$", changelog, re.MULTILINE)
    assert top is not None, "CHANGELOG.md has no '## VERSION - DATE' section"
    release = ET.parse(PACKAGING / "linux" / f"{APP_ID}.metainfo.xml").find("releases/release")
    assert release is not None
    assert top.group(1) == release.get("version") == app.__version__
    assert top.group(2) == release.get("date")


def test_metainfo_and_desktop_entry_name_the_same_application() -> None:
    component = ET.parse(PACKAGING / "linux" / f"{APP_ID}.metainfo.xml").getroot()
    assert component.findtext("id") == APP_ID == DESKTOP_FILE
    assert component.findtext("launchable") == f"{APP_ID}.desktop"
    assert component.findtext("provides/binary") == "pairdesk"
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    entry.read(PACKAGING / "linux" / f"{APP_ID}.desktop")
    desktop = entry["Desktop Entry"]
    assert desktop["Type"] == "Application"
    assert desktop["Icon"] == APP_ID
    assert desktop["Exec"] == "pairdesk gui"  # install-desktop-entry.sh makes it absolute
    assert desktop["Terminal"] == "false"


@pytest.mark.parametrize("size", [16, 24, 32, 48, 64, 128, 256, 512])
def test_the_package_ships_the_icon_at_each_desktop_size(size: int) -> None:
    with Image.open(ROOT / "app" / "ui" / "icons" / f"pairdesk-{size}.png") as image:
        assert image.size == (size, size) and image.mode == "RGBA"


def test_the_icons_are_what_the_generator_draws(tmp_path: Path) -> None:
    sys.path.insert(0, str(PACKAGING / "icons"))
    try:
        import make_icons
    finally:
        sys.path.remove(str(PACKAGING / "icons"))
    make_icons.write_package_icons(tmp_path)
    shipped = ROOT / "app" / "ui" / "icons"
    assert (tmp_path / "pairdesk.svg").read_text() == (shipped / "pairdesk.svg").read_text()
    for size in make_icons.PNG_SIZES:
        with (
            Image.open(tmp_path / f"pairdesk-{size}.png") as drawn,
            Image.open(shipped / f"pairdesk-{size}.png") as kept,
        ):
            assert drawn.tobytes() == kept.tobytes(), f"pairdesk-{size}.png is stale"
    make_icons.write_ico(tmp_path / "pairdesk.ico")
    make_icons.write_icns(tmp_path / "pairdesk.icns")
    with Image.open(tmp_path / "pairdesk.ico") as ico:
        assert (256, 256) in ico.info["sizes"] and (16, 16) in ico.info["sizes"]
    assert (tmp_path / "pairdesk.icns").read_bytes()[:4] == b"icns"


@pytest.mark.parametrize("platform", ["linux", "windows", "macos"])
def test_each_spec_file_is_valid_python_and_uses_the_shared_list(platform: str) -> None:
    text = (PACKAGING / "pyinstaller" / f"pairdesk-{platform}.spec").read_text()
    ast.parse(text)
    assert "common.datas()" in text and "common.hiddenimports()" in text
