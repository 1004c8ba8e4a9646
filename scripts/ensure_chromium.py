"""Make sure a Chromium is available for pairdesk (called by `make setup`).

System Chromium first; as root on Debian, install Debian's package; otherwise
let Playwright download its own build (works on a machine with internet).
Sessions run in the lighter headless shell when there is one (docs/BENCHMARKS.md,
"Headless shell"): Debian's `chromium-headless-shell` is added as root, and
Playwright's download brings its own; without one, sessions use the full Chromium.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from app.engine.chromium import ChromiumNotFound, find_chromium


def _apt_install(*packages: str) -> bool:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
    done = subprocess.run(["apt-get", "install", "-y", "-qq", *packages], check=False, env=env)
    return done.returncode == 0


def main() -> int:
    try:
        choice = find_chromium()
    except ChromiumNotFound:
        choice = None
    as_root_with_apt = os.geteuid() == 0 and shutil.which("apt-get") is not None
    if choice is not None:
        if choice.source == "system" and choice.headless_path is None and as_root_with_apt:
            print("setup: adding Debian's chromium-headless-shell (apt-get)...", flush=True)
            if not _apt_install("chromium-headless-shell"):
                print("setup: no headless shell; sessions use the full Chromium", flush=True)
        return 0
    if as_root_with_apt:
        print("setup: installing Debian's chromium (apt-get)...", flush=True)
        _apt_install("chromium")
        _apt_install("chromium-headless-shell")  # optional: lighter sessions
        if shutil.which("chromium"):
            return 0
        print("setup: apt-get could not install chromium; trying Playwright's build", flush=True)
    print("setup: downloading Chromium with Playwright...", flush=True)
    done = subprocess.run([sys.executable, "-m", "playwright", "install", "chromium"], check=False)
    if done.returncode != 0:
        print(
            "setup: no Chromium could be installed. Install one yourself "
            "(e.g. apt-get install chromium) or set PAIRDESK_CHROMIUM to its path.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
