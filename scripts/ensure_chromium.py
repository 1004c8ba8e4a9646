"""Make sure a Chromium is available for pairdesk (called by `make setup`).

System Chromium first; as root on Debian, install Debian's package; otherwise
let Playwright download its own build (works on a machine with internet).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from app.engine.chromium import ChromiumNotFound, find_chromium


def main() -> int:
    try:
        choice = find_chromium()
    except ChromiumNotFound:
        choice = None
    if choice is not None:
        return 0
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("setup: installing Debian's chromium (apt-get)...", flush=True)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
        done = subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=False, env=env)
        if done.returncode == 0 and shutil.which("chromium"):
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
