"""The console's first run: when it is one, and the `pairdesk.toml` it leaves behind.

A first run is `pairdesk gui` finding no configuration at all: no
`--config`, no `pairdesk.toml` where `Settings.load` looks (the current
folder, the user config folder, `PAIRDESK_CONFIG`), and no `PAIRDESK_<KEY>`
variable. Whatever the operator then picks, a `pairdesk.toml` is written to
the user config folder, so the question is asked once: "try the sandbox"
writes a file that keeps the defaults (the sandbox), "connect to
production" one with the central API, the login page and the database.
Closing the dialog writes nothing (the console starts on the sandbox and
asks again next time).

The secret never goes into `pairdesk.toml` (`app.secret_store` keeps it);
neither does a database password: `validate_production` refuses a URL that
carries one and says where libpq reads it from instead.

Qt-free: the dialog (`app/ui/first_run_dialog.py`) and its tests use it, and
the checks it offers (`sync test`, the database) are passed in by the
command line (`app/cli/_first_run.py`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from app import __version__
from app.config import (
    ENV_PREFIX,
    ConfigError,
    Settings,
    default_config_path,
    find_config_file,
    toml_line,
)
from app.secret_store import SecretStoreError, StoredSecret, write_private_file

PRODUCTION_PROVIDER_URL = "https://web.whatsapp.com/"
_SETTING_VARIABLES = frozenset(ENV_PREFIX + f.name.upper() for f in dataclasses.fields(Settings))


class FirstRunError(Exception):
    """The choice could not be saved; the message says what to do."""


@dataclass(frozen=True)
class CheckOutcome:
    """A check's plain-language verdict: a headline and what to do."""

    ok: bool
    headline: str
    details: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class FirstRunChecks:
    """The checks the dialog runs in place, given by the command line.

    `test_connection(central_url, secret)` is `pairdesk sync test`'s probe;
    `check_database(url)` opens the database and reads its schema revision.
    """

    test_connection: Callable[[str, str], Awaitable[CheckOutcome]]
    check_database: Callable[[str], Awaitable[CheckOutcome]]


def is_first_run(*, explicit_config: str | None, environ: Mapping[str, str], cwd: Path) -> bool:
    """True when nothing configures pairdesk yet (see the module docstring)."""
    if explicit_config or ENV_PREFIX + "CONFIG" in environ:
        return False
    if any(name in _SETTING_VARIABLES for name in environ):
        return False
    try:
        return find_config_file(environ, cwd) is None
    except ConfigError:
        return False


@dataclass(frozen=True)
class ProductionChoice:
    """What "connect to production" asks for (the secret travels separately)."""

    central_url: str
    provider_url: str = PRODUCTION_PROVIDER_URL
    database_url: str = ""  # empty: SQLite in the data folder


def validate_production(choice: ProductionChoice, secret: str) -> dict[str, str]:
    """Field name -> what is wrong with it; empty when the choice can be saved."""
    problems: dict[str, str] = {}
    if not choice.central_url.strip():
        problems["central_url"] = (
            "Enter the central API's base URL, e.g. https://platform.example.com"
        )
    for key in ("central_url", "provider_url", "database_url"):
        if key in problems:
            continue
        try:
            Settings().with_overrides(**{key: getattr(choice, key)})
        except ConfigError as exc:
            problems[key] = str(exc).split(": ", 1)[-1]
    if not secret.strip():
        problems["secret"] = "Paste the webhook secret the platform gave you"
    if "database_url" not in problems and _has_password(choice.database_url):
        problems["database_url"] = (
            "Leave the password out of the URL (pairdesk.toml is not a place for secrets): "
            "PostgreSQL reads it from ~/.pgpass (mode 0600) or PGPASSFILE"
        )
    return problems


def _has_password(url: str) -> bool:
    from urllib.parse import urlparse

    return bool(url) and bool(urlparse(url).password)


def sandbox_config() -> str:
    return _header("try the sandbox") + (
        "# Every setting keeps its default: the console runs on the built-in sandbox.\n"
        "# To connect to production later, set provider_url, central_url and the\n"
        "# webhook secret (README.md, Configuration), or delete this file to be asked again.\n"
    )


def production_config(choice: ProductionChoice, secret: StoredSecret) -> str:
    lines = [
        toml_line("provider_url", choice.provider_url),
        toml_line("central_url", choice.central_url.strip().rstrip("/")),
    ]
    if secret.where == "keyring":
        lines.append("# The webhook secret is in the OS keyring (service pairdesk).")
        lines.append(toml_line("webhook_secret_keyring", True))
    else:
        lines.append(toml_line("webhook_secret_file", str(secret.path)))
    if choice.database_url.strip():
        lines.append(toml_line("database_url", choice.database_url.strip()))
    else:
        lines.append("# database_url: not set, SQLite in the data folder.")
    return _header("connect to production") + "\n".join(lines) + "\n"


def _header(choice: str) -> str:
    return (
        f"# Written by pairdesk {__version__}'s first-run dialog on {date.today()} "
        f'("{choice}").\n'
        "# No secret is kept in this file.\n"
    )


def write_first_config(text: str, *, environ: Mapping[str, str]) -> Path:
    """Write a new `pairdesk.toml` to the user config folder and return its path.

    Refuses to replace a file that appeared meanwhile (another console, a
    hand-written one): that file is the configuration, not ours to overwrite.
    The refusal is the write itself (`exclusive`), not a look beforehand, so a
    file that appears while this one is being written is kept too.
    """
    path = default_config_path(environ)
    try:
        write_private_file(path, text, exclusive=True)
    except FileExistsError:
        raise FirstRunError(
            f"{path} already exists (written after this console started); "
            "nothing was changed. Restart pairdesk to use it."
        ) from None
    except SecretStoreError as exc:
        raise FirstRunError(f"the settings could not be saved: {exc}") from None
    try:  # never leave a file the next start would refuse
        Settings.load(environ={}, config_file=path)
    except ConfigError as exc:
        path.unlink(missing_ok=True)
        raise FirstRunError(f"the settings could not be saved: {exc}") from None
    return path
