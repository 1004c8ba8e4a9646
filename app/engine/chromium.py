"""Which Chromium pairdesk launches, and with which flags.

Order: the `chromium` setting (or `PAIRDESK_CHROMIUM`), then a system Chromium on
PATH, then the browser Playwright downloaded itself (executable_path None).
The flags keep a headless Chromium quiet on a closed network: without the
background-networking ones it keeps trying to reach Google's hosts.
"""

from __future__ import annotations

import os
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


@dataclass(frozen=True)
class ChromiumChoice:
    """The browser to launch: `path` None means Playwright's own download."""

    path: str | None
    source: str  # "setting", "system", "playwright"


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
    for name in _SYSTEM_NAMES:
        found = shutil.which(name)
        if found:
            return ChromiumChoice(found, "system")
    if _playwright_chromium_installed():
        return ChromiumChoice(None, "playwright")
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
