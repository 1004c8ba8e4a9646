"""`pairdesk doctor`: can this machine run pairdesk with these settings?

Each check returns a `CheckResult` with what it found and, when it fails,
what to do about it. The CLI prints them as a table; the console's
diagnostics view shows the same list. Checks never print or return secrets.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from app.config import ConfigError, Settings
from app.engine.child_env import browser_environment
from app.engine.chromium import CHROMIUM_FLAGS, ChromiumNotFound, chromium_version, find_chromium
from app.permissions import wider_than_private
from app.redaction import redact_url

MIN_FREE_BYTES = 1 << 30  # a few hundred sessions' snapshots and the database fit in 1 GiB


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str
    advice: str = ""
    warning: bool = False  # works, but something should be fixed (printed as "warn")


Check = Callable[[Settings], Awaitable[list[CheckResult]]]


async def check_python(_: Settings) -> list[CheckResult]:
    version = ".".join(map(str, sys.version_info[:3]))
    ok = sys.version_info >= (3, 11)
    return [
        CheckResult(
            "python", ok, f"Python {version} at {sys.executable}", "" if ok else "use 3.11+"
        )
    ]


async def check_chromium(settings: Settings, *, launch: bool = True) -> list[CheckResult]:
    try:
        choice = find_chromium(settings.chromium)
    except ChromiumNotFound as exc:
        return [CheckResult("chromium", False, "not found", str(exc))]
    where = choice.path or "Playwright's own Chromium"
    version = chromium_version(choice.path) if choice.path else ""
    sessions = (
        f"; sessions run in the headless shell {choice.headless_path}"
        if choice.headless_path and choice.headless_path != choice.path
        else ""
    )
    found = CheckResult("chromium", True, f"{where} ({version or choice.source}){sessions}")
    if not launch:
        return [found]
    started = time.perf_counter()
    try:
        await _headless_launch(choice.session_path)
    except Exception as exc:  # any launch failure is the finding itself
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return [
            found,
            CheckResult(
                "chromium launch",
                False,
                f"headless launch failed: {first_line[:200]}",
                "run `make setup`, or set PAIRDESK_CHROMIUM to a working Chromium",
            ),
        ]
    took = time.perf_counter() - started
    return [found, CheckResult("chromium launch", True, f"headless launch OK in {took:.1f} s")]


async def _headless_launch(path: str | None) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw, asyncio.timeout(60):
        browser = await pw.chromium.launch(
            executable_path=path,
            headless=True,
            args=list(CHROMIUM_FLAGS),
            env=dict(browser_environment(os.environ)),
        )
        try:
            page = await browser.new_page()
            await page.set_content("<p id=ok>ok</p>")
            await page.wait_for_selector("#ok")
        finally:
            await browser.close()


async def check_folders(settings: Settings) -> list[CheckResult]:
    results = []
    for name, folder in (("data folder", settings.data_dir), ("sessions", settings.sessions_dir)):
        results.append(_check_folder(name, folder))
    return results


def _check_folder(name: str, folder: Path) -> CheckResult:
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".doctor-", delete=True) as fh:
            fh.write(b"ok")
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        return CheckResult(
            name,
            False,
            f"{folder} is not writable ({exc.strerror})",
            f"fix the permissions of {folder} or point the setting elsewhere",
        )
    free = shutil.disk_usage(folder).free
    detail = f"{folder} writable, {free / (1 << 30):.1f} GiB free"
    if free < MIN_FREE_BYTES:
        return CheckResult(name, False, detail, "free some disk space (at least 1 GiB)")
    return CheckResult(name, True, detail)


async def check_snapshot_key(settings: Settings) -> list[CheckResult]:
    """Whether saved logins are encrypted, and where their key is (app/engine/vault.py)."""
    from app.engine.vault import VaultError, vault_for

    name = "login encryption"
    try:
        line = await asyncio.to_thread(vault_for(settings.sessions_dir).describe)
    except VaultError as exc:
        return [CheckResult(name, False, str(exc), "see docs/SECURITY.md, moving the key")]
    in_file = "the key is in the file" in line
    advice = "protect it: disk encryption, and a backup of the key" if in_file else ""
    return [CheckResult(name, True, line, advice)]


async def check_permissions(settings: Settings) -> list[CheckResult]:
    """Warn about anything in the data or sessions folder other users could read."""
    results = []
    for name, folder in (("data folder", settings.data_dir), ("sessions", settings.sessions_dir)):
        if not folder.is_dir():
            continue
        wide = await asyncio.to_thread(wider_than_private, folder)
        if not wide:
            results.append(CheckResult(f"{name} access", True, f"{folder}: owner only"))
            continue
        path, mode = wide[0]
        results.append(
            CheckResult(
                f"{name} access",
                True,
                f"{len(wide)} item(s) under {folder} readable by other users, "
                f"e.g. {path} ({mode:04o}); they hold phone numbers or logins",
                f"run: chmod -R go-rwx {folder}",
                warning=True,
            )
        )
    return results


async def check_database(settings: Settings) -> list[CheckResult]:
    url = settings.effective_database_url
    shown = settings.redacted()["database_url"] or url
    try:
        await asyncio.to_thread(_connect, url, settings)
    except Exception as exc:  # the failure is the finding
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return [
            CheckResult(
                "database",
                False,
                f"{shown}: cannot connect ({message[:200]})",
                "check database_url (PAIRDESK_DATABASE_URL) and that the server is running",
            )
        ]
    return [CheckResult("database", True, f"{shown} reachable")]


def _connect(url: str, settings: Settings) -> None:
    from sqlalchemy import create_engine, text

    if url.startswith("sqlite:///"):
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    engine = create_engine(url, connect_args={"connect_timeout": 5} if "postgres" in url else {})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    finally:
        engine.dispose()


async def check_central(settings: Settings) -> list[CheckResult]:
    if not settings.central_url:
        detail = "embedded reference API (sandbox)" if settings.sandbox_mode else "sync off"
        return [CheckResult("central API", True, f"not configured: {detail}")]
    try:
        secret = settings.resolved_webhook_secret()
    except ConfigError as exc:
        return [CheckResult("central API", False, str(exc), "fix webhook_secret_file")]
    import httpx

    url = settings.central_url.rstrip("/") + "/api/whatsapp/accounts/active"
    try:
        async with httpx.AsyncClient(timeout=settings.webhook_timeout) as client:
            response = await client.get(url)
    except httpx.HTTPError as exc:
        return [
            CheckResult(
                "central API",
                False,
                f"{redact_url(settings.central_url)} unreachable ({type(exc).__name__})",
                "check central_url and the network; events wait in the outbox meanwhile",
            )
        ]
    results = [
        CheckResult(
            "central API",
            response.status_code < 500,
            f"{redact_url(settings.central_url)} answered HTTP {response.status_code}",
            "" if response.status_code < 500 else "the central API has a server error",
        )
    ]
    if not secret:
        results.append(
            CheckResult(
                "webhook secret",
                False,
                "no webhook secret configured",
                "set webhook_secret or webhook_secret_file",
            )
        )
    return results


async def check_display(_: Settings) -> list[CheckResult]:
    """The console's window: Qt's platform plugin must load (probed in a child,
    since a failed load aborts the process)."""
    from app.engine import qt_platform

    missing = await asyncio.to_thread(qt_platform.missing_packages)
    if missing:
        return [
            CheckResult(
                "console display",
                False,
                "Qt's xcb plugin lacks " + ", ".join(missing) + " (the console cannot open)",
                qt_platform.apt_line(missing),
            )
        ]
    if not qt_platform.has_display(os.environ):
        return [
            CheckResult(
                "console display",
                True,
                "no display here; `pairdesk gui` uses the terminal view",
            )
        ]
    found = await asyncio.to_thread(qt_platform.probe)
    if not found.ok:
        return [CheckResult("console display", False, found.detail, found.advice)]
    return [CheckResult("console display", True, f"Qt platform plugin {found.detail!r} loads")]


ALL_CHECKS: tuple[Check, ...] = (
    check_python,
    check_display,
    check_chromium,
    check_folders,
    check_snapshot_key,
    check_permissions,
    check_database,
    check_central,
)


async def run_checks(
    settings: Settings, *, launch_browser: bool = True, checks: tuple[Check, ...] = ALL_CHECKS
) -> list[CheckResult]:
    """Run every check in order; `launch_browser=False` only locates Chromium."""
    results: list[CheckResult] = []
    for check in checks:
        if check is check_chromium and not launch_browser:
            results.extend(await check_chromium(settings, launch=False))
        else:
            results.extend(await check(settings))
    return results
