"""What "About pairdesk" says: the version and the facts support asks for first.

The console's About dialog shows these lines and copies them to the
clipboard, so a support agent pastes the same facts into a ticket every
time: which pairdesk, how it was installed, on what, with which settings
file, and where its data is. No secret appears (the database URL is shown
without its password).
"""

from __future__ import annotations

import importlib.metadata
import platform
import sys
from pathlib import Path

import app
from app.config import Settings

DESCRIPTION = (
    "Operator console that links and watches many WhatsApp accounts for the messaging platform."
)


def install_kind() -> str:
    """How this pairdesk was installed: desktop bundle, source checkout or package."""
    if getattr(sys, "frozen", False):
        return "desktop bundle"
    root = Path(app.__file__).resolve().parent.parent
    if (root / "pyproject.toml").is_file() and (root / ".git").exists():
        return f"source checkout ({root})"
    return f"installed package ({Path(app.__file__).resolve().parent})"


def _version_of(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def details(
    settings: Settings, *, config_file: Path | None, extra: dict[str, str] | None = None
) -> list[tuple[str, str]]:
    """(label, value) rows, in the order the dialog shows them."""
    redacted = settings.redacted()
    if settings.sandbox_mode:
        mode = "sandbox (built-in login simulator)"
    else:
        mode = f"production ({settings.provider_url})"
    rows = [
        ("pairdesk", app.__version__),
        ("installed as", install_kind()),
        ("mode", mode),
        ("central API", settings.central_url or "the sandbox's reference API"),
        ("settings file", str(config_file) if config_file else "none (built-in defaults)"),
        ("data folder", str(settings.data_dir)),
        ("database", redacted["database_url"] or settings.effective_database_url),
        ("Python", f"{platform.python_version()} ({sys.executable})"),
        ("Playwright", _version_of("playwright")),
        ("system", platform.platform()),
    ]
    rows.extend((extra or {}).items())
    return rows


def as_text(rows: list[tuple[str, str]]) -> str:
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows) + "\n"
