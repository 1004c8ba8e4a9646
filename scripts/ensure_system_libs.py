"""System libraries the console and the tests need (called by `make setup`).

Qt's window plugin (xcb) needs libxcb-cursor0, libxcb-icccm4 and
libxcb-keysyms1 from Qt 6.5 on, which minimal Debian/Ubuntu installs lack;
the tests use Xvfb (a real X display) and tesseract (reading a banner from a
screenshot). As root with apt-get they are installed; otherwise the exact
`apt-get install` line is printed and setup goes on: the console falls back
to the terminal view until they are there, and those tests skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from app.engine.qt_platform import REQUIRED_PACKAGES, apt_line, missing_packages

# package -> the command that proves it is installed (tests only)
TEST_TOOLS = {"xvfb": "Xvfb", "tesseract-ocr": "tesseract"}


def _dpkg_installed(package: str) -> bool:
    dpkg = shutil.which("dpkg-query")
    if dpkg is None:
        return True  # not Debian: nothing to say about package names
    done = subprocess.run(
        [dpkg, "-W", "-f=${Status}", package], capture_output=True, text=True, check=False
    )
    return done.returncode == 0 and "install ok installed" in done.stdout


def wanted() -> list[str]:
    packages = [p for p in REQUIRED_PACKAGES if not _dpkg_installed(p)]
    packages += [p for p in missing_packages() if p not in packages]
    packages += [p for p, tool in TEST_TOOLS.items() if shutil.which(tool) is None]
    return packages


def main() -> int:
    if not shutil.which("apt-get"):
        return 0  # not Debian/Ubuntu: the README lists what the console needs
    packages = wanted()
    if not packages:
        return 0
    if os.geteuid() != 0:
        print(
            "setup: the console needs system libraries; run: " + apt_line(packages),
            flush=True,
        )
        return 0
    print("setup: installing " + " ".join(packages) + " (apt-get)...", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
    done = subprocess.run(["apt-get", "install", "-y", "-qq", *packages], check=False, env=env)
    if done.returncode != 0:
        print("setup: apt-get failed; run: " + apt_line(packages), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
