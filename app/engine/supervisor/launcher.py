"""How the supervisor starts a real `pairdesk instance`: argv and environment.

Settings travel as `PAIRDESK_*` environment variables rather than flags, so
every key reaches the child exactly as the supervisor resolved it
(environment variables override a `pairdesk.toml` the child might find).
Secrets (the instance token, the webhook secret) travel neither way: they are
the first line of the child's stdin, so they show neither in the process list
nor in any environment (`--supervised`, app/engine/instance/supervised.py).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import app
from app.config import ENV_PREFIX, Settings
from app.engine.supervisor.process import LaunchSpec

__all__ = ["InstanceLauncher"]

_PASSED_KEYS = (
    "sessions_dir",
    "data_dir",
    "isolation",
    "max_sessions",
    "warm_pool",
    "chromium",
    "host",
    "start_concurrency",
    "qr_limit",
    "heartbeat_interval",
    "retry_budget",
    "webhook_timeout",
    "pairing_code_webhook",
    "time_scale",
    "sandbox_boot_delay",
    "log_level",
)


@dataclass(frozen=True, kw_only=True)
class InstanceLauncher:
    """Builds `python -m app instance --index I --port 0` (in the desktop bundle:
    `pairdesk instance ...`) with the supervisor's settings."""

    settings: Settings
    provider_url: str
    central_url: str = ""
    webhook_secret: str = ""

    def spec(self, *, index: int, token: str) -> LaunchSpec:
        s = self.settings
        env = {ENV_PREFIX + key.upper(): _text(getattr(s, key)) for key in _PASSED_KEYS}
        env.update(
            {
                "PAIRDESK_PROVIDER_URL": self.provider_url,
                "PAIRDESK_CENTRAL_URL": self.central_url,
                "PAIRDESK_DATABASE_URL": s.effective_database_url,
                # Emptied so a value in the environment or a file cannot shadow the
                # secrets line (the instance reads it over these).
                "PAIRDESK_INSTANCE_TOKEN": "",
                "PAIRDESK_WEBHOOK_SECRET": "",
            }
        )
        if self.webhook_secret:
            env["PAIRDESK_WEBHOOK_SECRET_FILE"] = ""
        # The secrets go through the child's stdin (read by app/engine/instance/
        # supervised.py), which then stays open as the lifeline: see docs/SECURITY.md.
        line = json.dumps({"instance_token": token, "webhook_secret": self.webhook_secret})
        stdin = line.encode() + b"\n"
        secrets = tuple(v for v in (token, self.webhook_secret) if v)
        tail = ["--index", str(index), "--port", "0", "--supervised"]
        if getattr(sys, "frozen", False):
            # The desktop bundle: its executable is `pairdesk` itself, not a Python.
            argv = [sys.executable, "instance", *tail]
            return LaunchSpec(argv=argv, env=env, stdin=stdin, secrets=secrets)
        # `-m app` must find this very checkout, also when it is not installed: the
        # folder that holds the `app` package (never `app/` itself, whose packages
        # would shadow the standard library's).
        root = str(Path(app.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
        argv = [sys.executable, "-m", "app", "instance", *tail]
        return LaunchSpec(argv=argv, env=env, stdin=stdin, secrets=secrets)


def _text(value: object) -> str:
    # Absolute paths: the child must not depend on the working folder it inherits.
    return str(value.expanduser().resolve()) if isinstance(value, Path) else str(value)
