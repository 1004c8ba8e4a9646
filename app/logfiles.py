"""Rotating log files under `data_dir/logs/`: one per process, secrets redacted.

`console.log` for the window, `serve.log` for the terminal view and
`instance-N.log` for each instance process. The console's Instances view and
the diagnostics bundle read them back, so a failure that scrolled past on
stderr (or was never shown, with no terminal) can still be found.

Redaction is by value: the configured secrets (webhook secret, instance
token) become `***`, and every URL goes through `app.redaction.redact_url`
(a password or lone user token, secret-looking query values), before a
record reaches the file. The folder is 0700, the files 0600.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from logging.handlers import RotatingFileHandler
from pathlib import Path

from app.config import Settings
from app.redaction import redact_url

MAX_BYTES = 2 << 20  # 2 MiB a file
BACKUPS = 3  # plus the current one: at most 8 MiB per process
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_URL = re.compile(r"\b[a-zA-Z][\w+.-]*://[^\s'\"<>]+")


def logs_dir(settings: Settings) -> Path:
    return settings.data_dir / "logs"


def log_path(settings: Settings, name: str) -> Path:
    return logs_dir(settings) / f"{name}.log"


class Redactor(logging.Filter):
    """Replaces secret values and URL passwords in every record's final text."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return _URL.sub(lambda m: redact_url(m.group(0)), text)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


def _secrets_of(settings: Settings) -> list[str]:
    found = [settings.webhook_secret, settings.instance_token]
    try:
        found.append(settings.resolved_webhook_secret())
    except Exception:  # an unreadable secret file is reported elsewhere
        pass
    return [s for s in found if s]


def open_log(
    settings: Settings, name: str, *, level: int = logging.INFO, root: logging.Logger | None = None
) -> Path | None:
    """Add a rotating, redacting file handler for `name` to `root` (the root logger).

    Returns the file's path, or None when the folder cannot be written (the
    process runs on; its failures still reach the window or terminal)."""
    path = log_path(settings, name)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        handler = RotatingFileHandler(
            path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
        )
        os.chmod(path, 0o600)
    except OSError:
        return None
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(Redactor(_secrets_of(settings)))
    target = root or logging.getLogger()
    if target.level == logging.NOTSET or target.level > level:
        target.setLevel(level)
    target.addHandler(handler)
    return path


def tail(path: Path, lines: int = 200) -> list[str]:
    """The last `lines` lines of a log file; [] when there is none."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 256 * 1024))
            data = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    return data.splitlines()[-lines:] if lines > 0 else []
