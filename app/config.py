"""Settings: one frozen object built from defaults, `pairdesk.toml`, `PAIRDESK_*`
environment variables and command-line flags, in that order of precedence.

Every key has a default that needs no file at all (an empty `provider_url`
means "the embedded sandbox"). A bad value raises `ConfigError` naming the key,
where it came from and the form it should take, so a typo in a deployment is
one clear line instead of a traceback deep in the engine.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from app.redaction import redact_url

ENV_PREFIX = "PAIRDESK_"
CONFIG_FILE_NAME = "pairdesk.toml"
SANDBOX_WEBHOOK_SECRET = "pairdesk-sandbox-secret"
ISOLATION_MODES = ("context", "profile")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# URLs that may carry credentials (`https://user:pw@...`): shown redacted.
_URL_KEYS = ("database_url", "central_url", "provider_url", "fleet_database_url")
SECRET_KEYS = frozenset({"webhook_secret", "instance_token"})


class ConfigError(ValueError):
    """A setting has a value pairdesk cannot use; the message says which and why."""


def _source_checkout() -> Path | None:
    """The repository root when running from a source checkout, else None."""
    root = Path(__file__).resolve().parent.parent
    if (root / "pyproject.toml").is_file() and (root / "sessions").is_dir():
        return root
    return None


def user_data_dir(environ: Mapping[str, str]) -> Path:
    if sys.platform == "win32":
        base = Path(environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "pairdesk"


def user_config_dir(environ: Mapping[str, str]) -> Path:
    if sys.platform == "win32":
        base = Path(environ.get("APPDATA", Path.home() / "AppData" / "Roaming"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "pairdesk"


@dataclass(frozen=True)
class Settings:
    """Everything pairdesk can be configured with. Build it with `Settings.load`."""

    provider_url: str = ""
    central_url: str = ""
    webhook_secret: str = field(default="", repr=False)
    webhook_secret_file: str = ""
    webhook_secret_keyring: bool = False
    database_url: str = ""
    data_dir: Path = field(default_factory=lambda: user_data_dir(os.environ))
    sessions_dir: Path = field(default_factory=lambda: Path("sessions"))
    instances: int = 2
    max_sessions: int = 50
    isolation: str = "context"
    warm_pool: int = 2
    instance_token: str = field(default="", repr=False)
    chromium: str = ""
    host: str = "127.0.0.1"
    start_concurrency: int = 0
    qr_limit: int = 5
    heartbeat_interval: float = 5.0
    retry_budget: int = 5
    webhook_timeout: float = 10.0
    pairing_code_webhook: bool = False
    pull_interval: float = 300.0
    time_scale: float = 1.0
    sandbox_boot_delay: float = 0.3
    log_level: str = "INFO"
    # Fleet mode (docs/FLEET.md): empty = the embedded local engine.
    fleet_database_url: str = ""
    instance_name: str = ""
    advertise_url: str = ""
    lease_ttl: float = 15.0
    lease_grace: float = 5.0
    lease_margin: float = 3.0
    fleet_claim_batch: int = 5
    snapshot_store: str = ""
    fleet_key_file: str = ""

    # ----------------------------------------------------------------- derived

    @property
    def sandbox_mode(self) -> bool:
        """True when the provider is the embedded login simulator."""
        return not self.provider_url

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'pairdesk.db'}"

    @property
    def effective_start_concurrency(self) -> int:
        """Pages an instance opens at once: the setting, or one per core plus one.

        The plus one: in the headless shell a new context costs little of the
        browser process, and a third opening on two cores keeps them busy while
        the others wait on the page (restore 300: 61.4 s with 2, 52.9 s with 3,
        docs/BENCHMARKS.md)."""
        return self.start_concurrency or max(1, os.cpu_count() or 1) + 1

    @property
    def restore_concurrency(self) -> int:
        """Saved logins being reopened at once by one instance (restore, fleet take-over).

        Four times the start admission: admission bounds the CPU-heavy part of an
        opening (new context, page load), while the rest of it (the page booting,
        its IndexedDB opening: about 0.3 s of waiting per page) overlaps with the
        next ones. With only twice, an instance restored about 3.6 sessions a
        second; with four times, about 5-6 (docs/BENCHMARKS.md)."""
        return self.effective_start_concurrency * 4

    def resolved_webhook_secret(self) -> str:
        """The HMAC key: the secret file, else the inline value, else the OS keyring
        (`webhook_secret_keyring`); the sandbox has a default."""
        if self.webhook_secret_file:
            path = Path(self.webhook_secret_file).expanduser()
            try:
                secret = path.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(
                    f"webhook_secret_file: cannot read {path} ({exc.strerror}); "
                    "webhooks cannot be signed until it is readable"
                ) from None
            if not secret:
                raise ConfigError(f"webhook_secret_file: {path} is empty")
            return secret
        if self.webhook_secret:
            return self.webhook_secret
        if self.webhook_secret_keyring:
            from app.secret_store import SecretStoreError, read_keyring_secret

            try:
                return read_keyring_secret()
            except SecretStoreError as exc:
                raise ConfigError(
                    f"webhook_secret_keyring: {exc}; webhooks cannot be signed until then"
                ) from None
        return SANDBOX_WEBHOOK_SECRET if not self.central_url else ""

    def redacted(self) -> dict[str, Any]:
        """The settings as plain values, secrets replaced, safe for logs and bundles."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in SECRET_KEYS:
                value = "(set)" if value else ""
            elif f.name in _URL_KEYS:
                value = redact_url(value)
            out[f.name] = str(value) if isinstance(value, Path) else value
        return out

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some keys replaced, each validated like any other source."""
        return _build(dataclasses.asdict(self) | {}, changes, origin="override")

    # ------------------------------------------------------------------ loading

    @classmethod
    def load(
        cls,
        *,
        environ: Mapping[str, str] | None = None,
        flags: Mapping[str, Any] | None = None,
        config_file: Path | None = None,
        cwd: Path | None = None,
    ) -> Settings:
        """Defaults, then the TOML file, then `PAIRDESK_*` variables, then flags.

        `flags` holds only the options the user actually gave (None values are ignored).
        """
        env = dict(os.environ if environ is None else environ)
        base = _defaults(env)
        file_path = config_file or find_config_file(env, cwd or Path.cwd())
        values: dict[str, Any] = {}
        if file_path is not None:
            values.update(_read_toml(file_path))
        settings = _build(base, values, origin=str(file_path) if file_path else "defaults")
        env_values = {
            name.lower(): env[ENV_PREFIX + name.upper()]
            for name in _FIELD_NAMES
            if ENV_PREFIX + name.upper() in env
        }
        settings = _build(dataclasses.asdict(settings), env_values, origin="environment")
        given = {k: v for k, v in (flags or {}).items() if v is not None}
        return _build(dataclasses.asdict(settings), given, origin="command line")


_FIELD_NAMES = tuple(f.name for f in dataclasses.fields(Settings))


def _defaults(environ: Mapping[str, str]) -> dict[str, Any]:
    data_dir = user_data_dir(environ)
    checkout = _source_checkout()
    sessions = checkout / "sessions" if checkout else data_dir / "sessions"
    values = dataclasses.asdict(Settings())
    values.update(data_dir=data_dir, sessions_dir=sessions)
    return values


def find_config_file(environ: Mapping[str, str], cwd: Path) -> Path | None:
    """The `pairdesk.toml` that `Settings.load` reads without `--config`, or None."""
    explicit = environ.get(ENV_PREFIX + "CONFIG")
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(f"PAIRDESK_CONFIG: no file at {path}; point it at a pairdesk.toml")
        return path
    for candidate in (cwd / CONFIG_FILE_NAME, user_config_dir(environ) / CONFIG_FILE_NAME):
        if candidate.is_file():
            return candidate
    return None


def default_config_path(environ: Mapping[str, str]) -> Path:
    """Where a new `pairdesk.toml` goes: the user config folder."""
    return user_config_dir(environ) / CONFIG_FILE_NAME


def toml_line(key: str, value: object) -> str:
    """One `key = value` line of `pairdesk.toml`, the value quoted as TOML wants."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int | float):
        text = str(value)
    else:
        # A JSON string is a valid TOML basic string (same escapes, incl. control chars).
        text = json.dumps(str(value), ensure_ascii=False)
    return f"{key} = {text}"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the file or remove it") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror})") from None
    # Allow both a flat file and a [pairdesk] table.
    table = data.get("pairdesk", data)
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [pairdesk] must be a table of settings")
    unknown = sorted(set(table) - set(_FIELD_NAMES))
    if unknown:
        raise ConfigError(
            f"{path}: unknown setting(s) {', '.join(unknown)}; "
            f"known settings are {', '.join(_FIELD_NAMES)}"
        )
    return dict(table)


# ---------------------------------------------------------------- validation

Parser = Callable[[Any], Any]


def _as_str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("text")
    return value.strip()


def _as_int(minimum: int, maximum: int | None = None) -> Parser:
    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise ValueError
        number = int(value, 10) if isinstance(value, str) else int(value)
        if isinstance(value, float) and value != number:
            raise ValueError
        if number < minimum or (maximum is not None and number > maximum):
            raise ValueError
        return number

    return parse


def _as_float(minimum: float, exclusive: bool = False) -> Parser:
    def parse(value: Any) -> float:
        if isinstance(value, bool):
            raise ValueError
        number = float(value)
        if number != number or (number <= minimum if exclusive else number < minimum):
            raise ValueError
        return number

    return parse


def _as_choice(choices: tuple[str, ...], upper: bool = False) -> Parser:
    def parse(value: Any) -> str:
        text = _as_str(value)
        text = text.upper() if upper else text.lower()
        if text not in choices:
            raise ValueError
        return text

    return parse


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = _as_str(value).lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0", ""):
        return False
    raise ValueError


def _as_http_url(value: Any) -> str:
    text = _as_str(value)
    if not text:
        return ""
    parsed = urlparse(text)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError
    return text


def _as_path(value: Any) -> Path:
    if isinstance(value, Path):
        return value
    text = _as_str(value)
    if not text:
        raise ValueError
    return Path(text).expanduser()


def _as_db_url(value: Any) -> str:
    text = _as_str(value)
    if text and "://" not in text:
        raise ValueError
    return text


def _as_snapshot_store(value: Any) -> str:
    text = _as_str(value)
    if text and (not text.startswith("s3://") or len(text) <= len("s3://")):
        raise ValueError
    return text


_PARSERS: dict[str, tuple[Parser, str]] = {
    "provider_url": (_as_http_url, "an http(s) URL such as https://web.whatsapp.com/, or empty"),
    "central_url": (_as_http_url, "an http(s) URL such as https://platform.example.com"),
    "webhook_secret": (_as_str, "text"),
    "webhook_secret_file": (_as_str, "a path to a file holding the secret"),
    "webhook_secret_keyring": (_as_bool, "true (the secret is in the OS keyring) or false"),
    "database_url": (_as_db_url, "a SQLAlchemy URL such as sqlite:///pairdesk.db"),
    "data_dir": (_as_path, "a folder path"),
    "sessions_dir": (_as_path, "a folder path"),
    "instances": (_as_int(1, 64), "a whole number from 1 to 64"),
    "max_sessions": (_as_int(1, 5000), "a whole number from 1 to 5000"),
    "isolation": (_as_choice(ISOLATION_MODES), "'context' or 'profile'"),
    "warm_pool": (_as_int(0, 50), "a whole number from 0 (off) to 50"),
    "instance_token": (_as_str, "text"),
    "chromium": (_as_str, "a path to a Chromium executable, or empty"),
    "host": (_as_str, "a host name or IP address such as 127.0.0.1"),
    "start_concurrency": (_as_int(0, 64), "a whole number from 0 (one per core, plus one) to 64"),
    "qr_limit": (_as_int(1, 100), "a whole number from 1 to 100"),
    "heartbeat_interval": (_as_float(0.0, exclusive=True), "a number of seconds above 0"),
    "retry_budget": (_as_int(0, 100), "a whole number from 0 to 100"),
    "webhook_timeout": (_as_float(0.0, exclusive=True), "a number of seconds above 0"),
    "pairing_code_webhook": (_as_bool, "true or false"),
    "pull_interval": (_as_float(0.0, exclusive=True), "a number of seconds above 0"),
    "time_scale": (_as_float(0.0, exclusive=True), "a number above 0 such as 1 or 0.05"),
    "sandbox_boot_delay": (_as_float(0.0), "a number of seconds, 0 or more"),
    "log_level": (_as_choice(LOG_LEVELS, upper=True), "DEBUG, INFO, WARNING or ERROR"),
    "fleet_database_url": (_as_db_url, "a PostgreSQL URL such as postgresql://user@db:5432/fleet"),
    "instance_name": (_as_str, "a stable member name such as pairdesk-0"),
    "advertise_url": (_as_http_url, "the http(s) URL consoles and peers reach this member at"),
    "lease_ttl": (_as_float(1.0), "a number of seconds, 1 or more"),
    "lease_grace": (_as_float(0.0), "a number of seconds, 0 or more"),
    "lease_margin": (_as_float(0.0, exclusive=True), "a number of seconds above 0"),
    "fleet_claim_batch": (_as_int(1, 500), "a whole number from 1 to 500"),
    "snapshot_store": (_as_snapshot_store, "empty (the fleet database) or s3://bucket/prefix"),
    "fleet_key_file": (_as_str, "a path to the fleet's 0600 key file (pairdesk fleet keygen)"),
}


def _build(base: dict[str, Any], changes: Mapping[str, Any], *, origin: str) -> Settings:
    values = dict(base)
    for key, raw in changes.items():
        if key not in _PARSERS:
            raise ConfigError(f"{key} ({origin}): unknown setting")
        parser, expected = _PARSERS[key]
        try:
            values[key] = parser(raw)
        except (ValueError, TypeError):
            shown = "(hidden)" if key in SECRET_KEYS else repr(raw)
            label = ENV_PREFIX + key.upper() if origin == "environment" else key
            raise ConfigError(f"{label} ({origin}): expected {expected}, got {shown}") from None
    if not values["host"]:
        raise ConfigError(f"host ({origin}): expected {_PARSERS['host'][1]}, got ''")
    if values["fleet_database_url"] and values["lease_margin"] >= values["lease_ttl"] / 2:
        raise ConfigError(
            f"lease_margin ({origin}): {values['lease_margin']} s must be under half of "
            f"lease_ttl ({values['lease_ttl']} s), or pages would close before every renewal"
        )
    return Settings(**values)
