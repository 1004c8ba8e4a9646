"""Build the Linux desktop bundle (`make bundle`): `dist/pairdesk/`, runnable without Python.

1. PyInstaller builds the one-folder bundle from
   `packaging/pyinstaller/pairdesk-linux.spec` (work files in
   `build/pyinstaller/`, both folders ignored by git);
2. the desktop files go beside the program: `share/applications/` (the
   `.desktop` entry), `share/icons/hicolor/<size>/apps/` (the packaged icons),
   `share/metainfo/` (AppStream), and `install-desktop-entry.sh`, which puts
   them into a user's (or, with --system, everyone's) desktop;
3. the bundle's own `pairdesk --version` must print this checkout's version;
4. with `--archive`, `dist/pairdesk-<version>-linux-<arch>.tar.gz` for staff.

It prints the build time and the bundle's size; `packaging/measure_bundle.py`
measures start-up times.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import app  # noqa: E402

APP_ID = "io.pairdesk.Pairdesk"
LINUX = ROOT / "packaging" / "linux"
ICONS = ROOT / "app" / "ui" / "icons"


def folder_size(folder: Path) -> int:
    return sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


# Debian/Ubuntu packages of the X11 libraries Qt's xcb platform plugin links to.
# PyInstaller copies the ones it finds on this machine into the bundle, so a
# library missing here would be missing on every machine the bundle goes to.
XCB_PACKAGES = (
    "libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 "
    "libxcb-render-util0 libxcb-shape0 libxcb-xfixes0 libxcb-xkb1 libxkbcommon-x11-0"
)


def missing_xcb_libraries() -> set[str]:
    import PySide6

    plugin = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    if not plugin.is_file() or shutil.which("ldd") is None:
        return set()
    qpa = plugin.parents[2] / "lib" / "libQt6XcbQpa.so.6"
    missing = set()
    for library in (plugin, qpa):
        out = subprocess.run(["ldd", str(library)], capture_output=True, text=True).stdout
        missing |= {line.split()[0] for line in out.splitlines() if "not found" in line}
    return missing


def check_xcb_libraries() -> None:
    """Make sure PyInstaller finds (and so bundles) every library of Qt's X11 plugin.

    As root on Debian the missing packages are installed, as `make setup` does
    for Chromium; elsewhere the build stops and says which packages to install.
    """
    missing = missing_xcb_libraries()
    if missing and os.geteuid() == 0 and shutil.which("apt-get"):
        print(f"build_bundle: installing {XCB_PACKAGES} (apt-get)...", flush=True)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        install = ["apt-get", "install", "-y", "-qq", *XCB_PACKAGES.split()]
        if subprocess.run(install, check=False, env=env).returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
            subprocess.run(install, check=False, env=env)
        missing = missing_xcb_libraries()
    if missing:
        sys.exit(
            f"build_bundle: Qt's X11 plugin needs {', '.join(sorted(missing))}, missing on "
            "this build machine, so the bundle could not open a window on X11. Install them "
            f"first (Debian/Ubuntu: apt-get install {XCB_PACKAGES})."
        )


def build(dist: Path, work: Path) -> Path:
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        sys.exit("build_bundle: PyInstaller is missing; run `make bundle` (it installs .[dev])")
    spec = ROOT / "packaging" / "pyinstaller" / "pairdesk-linux.spec"
    command = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level=WARN"]
    command += ["--distpath", str(dist), "--workpath", str(work), str(spec)]
    subprocess.run(command, check=True, cwd=ROOT)
    return dist / "pairdesk"


def add_desktop_files(bundle: Path) -> None:
    share = bundle / "share"
    (share / "applications").mkdir(parents=True, exist_ok=True)
    (share / "metainfo").mkdir(parents=True, exist_ok=True)
    shutil.copy2(LINUX / f"{APP_ID}.desktop", share / "applications")
    shutil.copy2(LINUX / f"{APP_ID}.metainfo.xml", share / "metainfo")
    for png in sorted(ICONS.glob("pairdesk-*.png")):
        size = png.stem.split("-")[1]
        target = share / "icons" / "hicolor" / f"{size}x{size}" / "apps"
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(png, target / f"{APP_ID}.png")
    scalable = share / "icons" / "hicolor" / "scalable" / "apps"
    scalable.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ICONS / "pairdesk.svg", scalable / f"{APP_ID}.svg")
    shutil.copy2(LINUX / "install-desktop-entry.sh", bundle / "install-desktop-entry.sh")


def check_version(bundle: Path) -> str:
    result = subprocess.run(
        [str(bundle / "pairdesk"), "--version"], capture_output=True, text=True, timeout=120
    )
    expected = f"pairdesk {app.__version__}"
    if result.returncode != 0 or result.stdout.strip() != expected:
        sys.exit(
            f"build_bundle: the bundle answered {result.stdout.strip()!r} "
            f"(exit {result.returncode}) instead of {expected!r}:\n{result.stderr[-2000:]}"
        )
    return result.stdout.strip()


def archive(bundle: Path) -> Path:
    name = f"pairdesk-{app.__version__}-linux-{platform.machine()}"
    path = bundle.parent / f"{name}.tar.gz"
    with tarfile.open(path, "w:gz", compresslevel=6) as tar:
        tar.add(bundle, arcname=name)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "pyinstaller")
    parser.add_argument("--archive", action="store_true", help="also write a .tar.gz")
    args = parser.parse_args()
    started = time.monotonic()
    check_xcb_libraries()
    bundle = build(args.dist, args.work)
    add_desktop_files(bundle)
    version = check_version(bundle)
    built = time.monotonic() - started
    print(f"bundle:     {bundle}/pairdesk ({version})")
    print(f"size:       {folder_size(bundle) / 2**20:.0f} MiB in {bundle}")
    print(f"build time: {built:.0f} s")
    if args.archive:
        path = archive(bundle)
        print(f"archive:    {path} ({path.stat().st_size / 2**20:.0f} MiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
