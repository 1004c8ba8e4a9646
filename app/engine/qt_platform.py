"""Can Qt open a window here? Checked without risking this process.

Qt aborts the whole process (exit 134, no exception to catch) when its
platform plugin cannot load: a missing system library such as
`libxcb-cursor0`, or a display that does not answer. So `pairdesk doctor`,
`pairdesk gui` and `make setup` ask two questions from the outside:

- which shared libraries of Qt's xcb plugin are missing (`ldd`, no display
  needed), mapped to the Debian/Ubuntu packages that provide them;
- whether a `QApplication` starts on this display, in a child process.

Qt's own message is no guide: it names `xcb-cursor0` even when the display
is merely unreachable, hence `ldd` for the libraries.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# The three that Debian's minimal installs lack (Qt >= 6.5 needs them all).
REQUIRED_PACKAGES = ("libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1")

# soname -> Debian/Ubuntu package, for every library the xcb plugin links.
SONAME_PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
}

_NOT_FOUND = re.compile(r"^\s*(\S+)\s*=>\s*not found", re.MULTILINE)
_PROBE = (
    "import sys\n"
    "from PySide6.QtWidgets import QApplication\n"
    "app = QApplication(sys.argv[:1])\n"
    "print(app.platformName())\n"
)


def apt_line(packages: tuple[str, ...] | list[str] = REQUIRED_PACKAGES) -> str:
    return "sudo apt-get install -y " + " ".join(packages)


def xcb_plugin() -> Path | None:
    # find_spec, not import: only app.ui imports Qt (an import contract)
    spec = importlib.util.find_spec("PySide6")
    if spec is None or spec.origin is None:
        return None
    plugin = Path(spec.origin).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return plugin if plugin.exists() else None


def parse_ldd(output: str) -> list[str]:
    """Packages for the `=> not found` lines of `ldd` output, in order, once each."""
    packages: list[str] = []
    for soname in _NOT_FOUND.findall(output):
        package = SONAME_PACKAGES.get(soname, soname)
        if package not in packages:
            packages.append(package)
    return packages


def missing_packages() -> list[str]:
    """Packages whose libraries Qt's xcb plugin cannot find; [] when unknown."""
    plugin = xcb_plugin()
    ldd = shutil.which("ldd")
    if plugin is None or ldd is None or not sys.platform.startswith("linux"):
        return []
    try:
        done = subprocess.run(
            [ldd, str(plugin)], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    return parse_ldd(done.stdout)


@dataclass(frozen=True)
class Probe:
    ok: bool
    detail: str  # the platform's name, or the reason it did not start
    advice: str = ""


def has_display(environ: Mapping[str, str]) -> bool:
    return bool(
        environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY") or environ.get("QT_QPA_PLATFORM")
    )


def probe(environ: Mapping[str, str] | None = None, *, timeout: float = 30.0) -> Probe:
    """Start a QApplication in a child process with `environ`; never aborts us."""
    env = dict(os.environ if environ is None else environ)
    missing = missing_packages()
    if missing and env.get("QT_QPA_PLATFORM", "xcb").split(":")[0] == "xcb":
        return Probe(False, "Qt's xcb plugin lacks " + ", ".join(missing), apt_line(missing))
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Probe(False, f"Qt did not start within {timeout:.0f} s", _display_advice(env))
    if done.returncode == 0 and done.stdout.strip():
        return Probe(True, done.stdout.strip().splitlines()[-1])
    return Probe(False, _reason(done.stderr, env), _display_advice(env))


def _reason(stderr: str, env: Mapping[str, str]) -> str:
    for line in stderr.splitlines():
        if "could not connect to display" in line:
            return f"cannot connect to display {env.get('DISPLAY', '')}".rstrip()
    for line in stderr.splitlines():
        if line.strip() and "qt.qpa.plugin: From 6.5.0" not in line:
            return line.strip()[:200]
    return "Qt's platform plugin did not start"


def _display_advice(env: Mapping[str, str]) -> str:
    if env.get("DISPLAY"):
        return f"check that the X display {env['DISPLAY']} is running and allows this user"
    return "check DISPLAY / WAYLAND_DISPLAY / QT_QPA_PLATFORM"
