"""Which Chromium pairdesk launches, and with which flags.

Order: the `chromium` setting (or `PAIRDESK_CHROMIUM`), then a system Chromium on
PATH, then the browser Playwright downloaded itself (executable_path None).
The flags keep a headless Chromium quiet on a closed network: without the
background-networking ones it keeps trying to reach Google's hosts.

Sessions run headless, and for that a *headless shell* is used when one is
installed beside the system or Playwright Chromium (Debian's
`chromium-headless-shell`, Playwright's `chromium_headless_shell-*`): the same
engine without the desktop browser's per-profile services, which cost the full
Chromium's browser process about 240 ms of CPU for every new context against
about 70 ms (docs/BENCHMARKS.md, "Headless shell"). Windows on the operator's
screen (the passkey window) need the full Chromium. A `chromium` setting names
one binary for both.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

CHROMIUM_FLAGS: tuple[str, ...] = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)

# Chromium features pairdesk turns off, on top of the ones Playwright turns off.
# Chromium (150+) gives every browser window, and so every BrowserContext, two
# omnibox popup WebUI pages (chrome://omnibox-popup.top-chrome/) in a renderer
# of their own, about 40 MiB per session that a headless login page never uses.
DISABLED_FEATURES: tuple[str, ...] = ("WebUIOmniboxPopup", "WebUIOmniboxAimPopup")
_DISABLE = "--disable-features="

_SYSTEM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_SHELL_NAMES = ("chromium-headless-shell", "chrome-headless-shell", "headless_shell")


@dataclass(frozen=True)
class ChromiumChoice:
    """The browser to launch: `path` None means Playwright's own download."""

    path: str | None
    source: str  # "setting", "system", "playwright"
    # The lighter binary for headless sessions (None: `path` runs them too).
    headless_path: str | None = None

    @property
    def session_path(self) -> str | None:
        """The binary that runs headless sessions."""
        return self.headless_path or self.path


class ChromiumNotFound(RuntimeError):
    """No Chromium could be found; the message says how to get one."""


def find_chromium(configured: str = "", environ: dict[str, str] | None = None) -> ChromiumChoice:
    env = os.environ if environ is None else environ
    explicit = configured or env.get("PAIRDESK_CHROMIUM", "")
    if explicit:
        resolved = shutil.which(explicit) or explicit
        if not Path(resolved).is_file() or not os.access(resolved, os.X_OK):
            raise ChromiumNotFound(
                f"the configured Chromium '{explicit}' is not an executable file; "
                "fix the chromium setting (PAIRDESK_CHROMIUM) or unset it to use the system one"
            )
        return ChromiumChoice(resolved, "setting")
    shell = next(filter(None, (shutil.which(name) for name in _SHELL_NAMES)), None)
    shell = _unwrapped(shell) if shell else None
    for name in _SYSTEM_NAMES:
        found = shutil.which(name)
        if found:
            return ChromiumChoice(found, "system", headless_path=shell)
    if shell is not None:  # a headless shell alone runs sessions, opens no window
        return ChromiumChoice(shell, "system", headless_path=shell)
    if _playwright_chromium_installed():
        return ChromiumChoice(None, "playwright", headless_path=_playwright_headless_shell())
    raise ChromiumNotFound(
        "no Chromium found: install one (Debian: apt-get install chromium; elsewhere: "
        "python -m playwright install chromium) or set PAIRDESK_CHROMIUM to its path; "
        "`make setup` does this for you"
    )


def _playwright_chromium_installed() -> bool:
    base = Path(
        os.environ.get("PLAYWRIGHT_BROWSERS_PATH") or Path.home() / ".cache" / "ms-playwright"
    )
    return any(base.glob("chromium*/chrome-linux*/chrome")) or any(
        base.glob("chromium_headless_shell*/*/headless_shell")
    )


_RUNS_ARGS = re.compile(r'^\s*(?:exec\s+)?(/\S+)\s+"\$@"\s*$', re.MULTILINE)


def _unwrapped(path: str) -> str:
    """The binary a launcher script runs, when `path` is such a script.

    Debian's /usr/bin/chromium-headless-shell runs the real binary without `exec`:
    the shell stays as its parent, and the kernel's parent-death signal pairdesk
    arms for Chromium (launch.py) would reach only the shell.
    """
    try:
        with open(path, "rb") as file:
            head = file.read(4096)
    except OSError:
        return path
    if not head.startswith(b"#!"):
        return path
    for target in _RUNS_ARGS.findall(head.decode("utf-8", "replace")):
        if os.path.isfile(target) and os.access(target, os.X_OK):
            return str(target)
    return path


def _playwright_headless_shell() -> str | None:
    """Playwright's own headless shell (downloaded beside its Chromium), if any."""
    base = Path(
        os.environ.get("PLAYWRIGHT_BROWSERS_PATH") or Path.home() / ".cache" / "ms-playwright"
    )
    found = sorted(
        path
        for name in ("headless_shell", "chrome-headless-shell")
        for path in base.glob(f"chromium_headless_shell*/*/{name}")
    )
    return str(found[-1]) if found else None


def is_headless_shell(path: str | None) -> bool:
    """Whether `path` is a headless shell, which cannot open a window."""
    return path is not None and Path(path).name in _SHELL_NAMES


def chromium_version(path: str) -> str:
    """`Chromium 131.0.6778.85 ...` as printed by the binary, or '' if it will not say."""
    try:
        out = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.strip()


def disabled_features_of(argv: Sequence[str]) -> list[str]:
    """The features a Chromium command line turns off (its last `--disable-features` wins)."""
    value = ""
    for arg in argv:
        if arg.startswith(_DISABLE):
            value = arg[len(_DISABLE) :]
    return [name for name in value.split(",") if name]


def merged_disable_features(defaults: Sequence[str], extra: Sequence[str]) -> str:
    """One `--disable-features=` flag holding both lists, defaults first.

    Chromium keeps only the last `--disable-features` on its command line, so
    passing ours next to Playwright's would silently switch Playwright's back on.
    """
    names = list(dict.fromkeys([*defaults, *extra]))
    return _DISABLE + ",".join(names)
