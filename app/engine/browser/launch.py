"""Launching Chromium so that it never outlives the instance process.

What Playwright already does (checked with Playwright 1.65 on Linux): the
Python process talks to a Node.js driver over pipes, and the driver starts
Chromium in its own process group with `--remote-debugging-pipe`. When the
Python process is killed with SIGKILL the driver sees its stdin close and
kills the browser; when the driver itself dies, Chromium sees the debugging
pipe close and exits. Both paths depend on a process noticing an EOF and
cleaning up in time, and a wedged driver (or a browser busy in a hung
renderer) can miss it.

So on Linux both children are also tied to their parent by the kernel:
`PR_SET_PDEATHSIG(SIGKILL)` is set by a tiny wrapper that then `exec`s the
real program (the setting survives exec). The driver is started through the
wrapper via `PLAYWRIGHT_NODEJS_PATH`, Chromium through `executable_path`.
Python dies -> the kernel kills the driver -> the kernel kills Chromium's
browser process -> its zygote and renderers exit with it. Note that
PDEATHSIG follows the *thread* that spawned the child: start the launcher
on the thread that runs the engine's loop for its whole life (EngineHost).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib.metadata
import json
import logging
import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import Protocol

import psutil
from playwright.async_api import (
    Browser,
    BrowserContext,
    Playwright,
    ProxySettings,
    async_playwright,
)

from app.config import Settings
from app.engine.child_env import (
    CREDENTIAL_MARKERS,
    CREDENTIAL_PREFIXES,
    browser_environment,
)
from app.engine.chromium import (
    CHROMIUM_FLAGS,
    DISABLED_FEATURES,
    disabled_features_of,
    find_chromium,
    is_headless_shell,
    merged_disable_features,
)

log = logging.getLogger(__name__)

# V8 in every renderer of the engine's browsers: favour memory over speed (smaller
# young generation, slower heap growth, less optimised code kept). A linked page at
# the sandbox's "real" weight costs 23% less renderer memory with it (202 -> 155 MiB;
# docs/BENCHMARKS.md, "Memory at real weight"), and a login page needs no JIT speed.
# Only the engine's browsers get it: the bench's replaced design stays as it was.
ENGINE_FLAGS: tuple[str, ...] = ("--js-flags=--optimize-for-size",)

# V8 in Playwright's Node.js driver (one per instance): a young generation of 1 MiB
# semi-spaces instead of Node's 16 MiB. The driver allocates in bursts (a real-weight
# snapshot is 9 MiB of JSON through it) and keeps a grown young generation committed:
# 131-133 -> 108-115 MiB USS per driver (docs/BENCHMARKS.md, "Memory: the fixed part").
# Given on node's command line by the driver's wrapper, so only a wrapped driver has it.
DRIVER_NODE_FLAGS: tuple[str, ...] = ("--max-semi-space-size=1",)

_WRAPPER = """#!{python} -IS
# pairdesk: run {target} so that the kernel kills it when its parent dies,
# without the credentials variables (app/engine/child_env.py).
import ctypes, os, signal, sys
parent = os.getppid()
ctypes.CDLL(None).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
if os.getppid() != parent:  # the parent died before prctl took effect
    sys.exit(1)
def credential(name):
    upper = name.upper()
    return upper.startswith({prefixes!r}) or any(m in upper for m in {markers!r})
env = {{k: v for k, v in os.environ.items() if not credential(k)}}
os.execve({target!r}, [{target!r}, *{leading!r}] + sys.argv[1:], env)
"""


class BrowserLauncher(Protocol):
    """Starts browsers for a SessionHost; a fake can stand in for tests."""

    async def start(self) -> None: ...

    async def launch(self) -> Browser:
        """A new headless Chromium (context isolation mode)."""
        ...

    async def launch_persistent(
        self, user_data_dir: Path, *, proxy: ProxySettings | None = None
    ) -> BrowserContext:
        """A Chromium on its own profile folder (profile isolation mode)."""
        ...

    async def launch_window(self) -> Browser:
        """A Chromium with windows, on the operator's display (`DISPLAY`); raises
        `NoDisplay` without one."""
        ...

    async def aclose(self) -> None: ...


class NoDisplay(RuntimeError):
    """There is no screen to open a window on."""


def _wrapper_dir() -> Path:
    folder = Path(tempfile.gettempdir()) / f"pairdesk-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    info = folder.lstat()
    if info.st_uid != os.getuid() or not stat.S_ISDIR(info.st_mode):
        raise RuntimeError(f"{folder} is not a folder owned by this user; remove it")
    os.chmod(folder, 0o700)
    return folder


def deathsig_wrapper(target: str, leading_args: tuple[str, ...] = ()) -> str:
    """Path of an executable that runs `target` under PR_SET_PDEATHSIG (Linux only),
    with `leading_args` before the arguments it is given."""
    if not sys.platform.startswith("linux"):
        return target
    body = _WRAPPER.format(
        python=sys.executable,
        target=target,
        leading=list(leading_args),
        prefixes=CREDENTIAL_PREFIXES,
        markers=CREDENTIAL_MARKERS,
    )
    digest = hashlib.sha256(body.encode()).hexdigest()[:16]
    path = _wrapper_dir() / f"pdeathsig-{Path(target).name}-{digest}"
    if not path.exists():
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(body, encoding="utf-8")
        os.chmod(tmp, 0o700)
        os.replace(tmp, path)
    return str(path)


def _env() -> dict[str, str | float | bool]:
    """Chromium's environment: this process's, without credentials (child_env.py).
    Given explicitly, so it holds even when the driver was not started wrapped."""
    return dict(browser_environment(os.environ))


def _wrap_driver() -> None:
    """Start Playwright's Node.js driver under PDEATHSIG, without credentials
    variables (the wrapper drops them) and with `DRIVER_NODE_FLAGS`, from now on, in
    this process.

    Playwright reads PLAYWRIGHT_NODEJS_PATH when a driver starts. It is set once
    and left set (pointing at the same node, wrapped), rather than set and
    restored around each start, which would race when two hosts start at once.
    """
    from playwright._impl._driver import compute_driver_executable

    node, _cli = compute_driver_executable()
    if Path(node).name.startswith("pdeathsig-"):
        return
    os.environ["PLAYWRIGHT_NODEJS_PATH"] = deathsig_wrapper(node, DRIVER_NODE_FLAGS)


class ChromiumLauncher:
    """The real launcher: one Playwright driver, Chromium with `CHROMIUM_FLAGS` and
    Playwright's disabled features plus `DISABLED_FEATURES` in one flag."""

    def __init__(self, settings: Settings, *, tie_to_parent: bool = True) -> None:
        self._settings = settings
        self._tie = tie_to_parent and sys.platform.startswith("linux")
        self._playwright: Playwright | None = None
        self._executable: str | None = None  # the full Chromium: windows
        self._session_executable: str | None = None  # headless sessions (a headless shell)
        self._window_capable = True
        self._args: list[str] = [*CHROMIUM_FLAGS, *ENGINE_FLAGS]

    async def start(self) -> None:
        if self._playwright is not None:
            return
        choice = find_chromium(self._settings.chromium)
        if self._tie:
            _wrap_driver()
        self._playwright = await async_playwright().start()
        path = choice.path or self._playwright.chromium.executable_path
        shell = choice.session_path or path
        self._executable = deathsig_wrapper(path) if self._tie else path
        self._session_executable = deathsig_wrapper(shell) if self._tie else shell
        self._window_capable = not is_headless_shell(path)
        defaults = await self._playwright_disabled_features(shell)
        if defaults is not None:
            disable = merged_disable_features(defaults, DISABLED_FEATURES)
            self._args = [*CHROMIUM_FLAGS, *ENGINE_FLAGS, disable]

    @property
    def playwright(self) -> Playwright:
        if self._playwright is None:
            raise RuntimeError("ChromiumLauncher.start() was not awaited")
        return self._playwright

    @property
    def args(self) -> list[str]:
        """The extra command-line flags every browser of this launcher gets."""
        return list(self._args)

    async def launch(self) -> Browser:
        return await self.playwright.chromium.launch(
            executable_path=self._session_executable, args=self.args, headless=True, env=_env()
        )

    async def launch_persistent(
        self, user_data_dir: Path, *, proxy: ProxySettings | None = None
    ) -> BrowserContext:
        return await self.playwright.chromium.launch_persistent_context(
            str(user_data_dir),
            executable_path=self._session_executable,
            args=self.args,
            headless=True,
            proxy=proxy,
            env=_env(),
        )

    async def launch_window(self) -> Browser:
        # Windows need a display: X11's DISPLAY, or Wayland's (Chromium picks it up).
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise NoDisplay(
                "this instance has no screen to open a window on (DISPLAY is not set); "
                "run the console on the computer whose screen should show it"
            )
        if not self._window_capable:
            raise NoDisplay(
                f"the Chromium in use ({self._executable}) is a headless shell, which cannot "
                "open a window; install the full Chromium (Debian: apt-get install chromium) "
                "or point the chromium setting (PAIRDESK_CHROMIUM) at it"
            )
        return await self.playwright.chromium.launch(
            executable_path=self._executable, args=self.args, headless=False, env=_env()
        )

    async def aclose(self) -> None:
        if self._playwright is not None:
            playwright, self._playwright = self._playwright, None
            await playwright.stop()

    async def _playwright_disabled_features(self, path: str) -> list[str] | None:
        """The features Playwright disables for this browser (None: unknown).

        Playwright does not publish its list, so a browser is launched once and its
        command line read; the answer is kept per Playwright version and browser.
        """
        try:
            version = importlib.metadata.version("playwright")
        except importlib.metadata.PackageNotFoundError:
            version = "unknown"
        key = hashlib.sha256(f"{version}\0{path}".encode()).hexdigest()[:16]
        cache = _wrapper_dir() / f"playwright-features-{key}.json"
        with contextlib.suppress(OSError, ValueError, TypeError):
            names = json.loads(cache.read_text(encoding="utf-8"))
            if isinstance(names, list) and all(isinstance(n, str) for n in names):
                return names
        try:
            browser = await self.playwright.chromium.launch(
                executable_path=self._session_executable,
                args=list(CHROMIUM_FLAGS),
                headless=True,
                env=_env(),
            )
            try:
                argv = await asyncio.to_thread(_newest_browser_argv)
            finally:
                await browser.close()
        except Exception as exc:  # only an optimisation is lost
            log.warning("could not read Playwright's Chromium flags (%s); using its defaults", exc)
            return None
        if argv is None:
            return None
        names = disabled_features_of(argv)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")
        with contextlib.suppress(OSError):
            tmp.write_text(json.dumps(names), encoding="utf-8")
            os.replace(tmp, cache)
        return names


def _newest_browser_argv() -> list[str] | None:
    """Command line of the newest Chromium browser process (not a renderer or helper)
    among this process's descendants."""
    newest: tuple[float, list[str]] | None = None
    for proc in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            argv = proc.cmdline()
            if "--remote-debugging-pipe" not in argv or any(a.startswith("--type=") for a in argv):
                continue
            created = proc.create_time()
            if newest is None or created > newest[0]:
                newest = (created, argv)
    return newest[1] if newest is not None else None
