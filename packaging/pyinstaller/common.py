"""What every pairdesk bundle holds, whatever the platform: read by the three spec files.

PyInstaller runs a spec file with `exec`, so each spec puts this folder on
`sys.path` and imports this module. It lists:

- the package data (everything under `app/` that is not Python: the sandbox
  page, the injected JS, the migrations' template, the icons) plus the
  migration scripts themselves, which Alembic reads from disk as files;
- every module of `app` (the command line imports its subcommands by name,
  which PyInstaller cannot see);
- Playwright's driver (Node.js and its package) comes with Playwright's own
  PyInstaller hook; no browser: pairdesk uses the machine's Chromium
  (`pairdesk doctor` says which);
- the `keyring` backends, found through entry points at run time;
- what to leave out: test and development tools that are installed in a
  development venv but never imported by pairdesk at run time.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PyInstaller.utils.hooks import collect_data_files, collect_submodules, copy_metadata

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import app  # noqa: E402  (after the checkout is on sys.path)

NAME = "pairdesk"
APP_ID = "io.pairdesk.Pairdesk"
VERSION = app.__version__
ENTRY = str(HERE / "pairdesk_main.py")

EXCLUDES = [
    "tkinter",
    "pytest",
    "_pytest",
    "pytestqt",
    "hypothesis",
    "mypy",
    "ruff",
    "importlinter",
    "grimp",
    "build",
    "PyInstaller",
    "IPython",
]


def datas() -> list[tuple[str, str]]:
    found = collect_data_files("app")  # every non-.py file of the package
    found += collect_data_files("app", include_py_files=True, subdir="store/migrations")
    for dist in ("pairdesk", "playwright", "keyring"):
        found += _metadata(dist)
    return sorted(set(found))


def _metadata(dist: str) -> list[tuple[str, str]]:
    # pairdesk's version comes from app.__version__; metadata lets `importlib.metadata`
    # answer for About and keyring's entry points.
    try:
        return copy_metadata(dist)
    except Exception:  # an editable install may have no metadata folder to copy
        return []


def hiddenimports() -> list[str]:
    modules = collect_submodules("app", filter=lambda name: ".migrations" not in name)
    modules += collect_submodules("keyring.backends")
    return sorted(set(modules))


def platform_icon(kind: str) -> str:
    """A Windows .ico or macOS .icns drawn from the icon's shapes, in the build folder."""
    sys.path.insert(0, str(ROOT / "packaging" / "icons"))
    import make_icons

    target = ROOT / "build" / "icons" / f"{NAME}.{kind}"
    if kind == "ico":
        return str(make_icons.write_ico(target))
    return str(make_icons.write_icns(target))


def windows_version_file() -> str:
    """The version resource of the .exe files (Properties > Details), from app.__version__."""
    numbers = [int(part) for part in VERSION.split(".")[:3] if part.isdigit()]
    four = tuple((numbers + [0, 0, 0, 0])[:4])
    text = f"""# UTF-8
VSVersionInfo(
  ffi=FixedFileInfo(filevers={four}, prodvers={four}),
  kids=[
    StringFileInfo([StringTable('040904B0', [
      StringStruct('CompanyName', 'pairdesk'),
      StringStruct('FileDescription', 'pairdesk operator console'),
      StringStruct('FileVersion', '{VERSION}'),
      StringStruct('ProductName', 'pairdesk'),
      StringStruct('ProductVersion', '{VERSION}'),
    ])]),
    VarFileInfo([VarStruct('Translation', [1033, 1200])]),
  ],
)
"""
    path = ROOT / "build" / "windows-version.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return str(path)
