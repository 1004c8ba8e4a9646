"""How an instance process ties itself to its supervisor and keeps secrets to itself.

Started by a supervisor (`pairdesk instance --supervised`), the instance's
stdin is a pipe whose other end only the supervisor holds:

- its first line is a JSON object with the secrets (`instance_token`,
  `webhook_secret`), so they never sit in an environment that children
  inherit or that `/proc/<pid>/environ` shows;
- after that the pipe is the *lifeline*: nothing more is written, and when
  the supervisor dies, however it dies (`kill -9` included), the kernel
  closes its end and the instance reads EOF. It then shuts down cleanly:
  every session snapshotted, Chromium closed, so the next supervisor on the
  same data folder restores them all without a QR.

`PR_SET_PDEATHSIG(SIGTERM)` is the backstop on Linux (the same clean
shutdown, should the lifeline reader be stuck). Whatever the mode, every
`PAIRDESK_*` variable is removed from the environment once the settings are
read: the Playwright driver and Chromium (which runs unsandboxed) need none
of them, and some are secrets (the token, the webhook secret, a database URL
with a password).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import IO

log = logging.getLogger(__name__)

ENV_PREFIX = "PAIRDESK_"
SECRET_FIELDS = ("instance_token", "webhook_secret")
_MAX_SECRETS_LINE = 64 * 1024
_PR_SET_PDEATHSIG = 1


class SupervisedStartError(RuntimeError):
    """The supervisor's secrets line could not be read."""


def read_secrets(stream: IO[bytes]) -> dict[str, str]:
    """The first line of `stream`: `{"instance_token": ..., "webhook_secret": ...}`."""
    line = stream.readline(_MAX_SECRETS_LINE)
    if not line.endswith(b"\n"):
        raise SupervisedStartError(
            "--supervised: no secrets line on stdin (the supervisor that started this "
            "instance is gone, or this was started by hand: drop --supervised)"
        )
    try:
        data = json.loads(line)
    except ValueError:
        raise SupervisedStartError("--supervised: the secrets line on stdin is not JSON") from None
    if not isinstance(data, dict):
        raise SupervisedStartError("--supervised: the secrets line on stdin is not an object")
    return {key: str(data.get(key) or "") for key in SECRET_FIELDS}


def secrets_line(*, instance_token: str, webhook_secret: str) -> bytes:
    """What the supervisor writes first on the instance's stdin."""
    body = {"instance_token": instance_token, "webhook_secret": webhook_secret}
    return json.dumps(body).encode() + b"\n"


def scrub_environment(environ: dict[str, str] | os._Environ[str] | None = None) -> list[str]:
    """Remove every `PAIRDESK_*` variable (after the settings are read); returns the names."""
    env = os.environ if environ is None else environ
    names = [name for name in env if name.startswith(ENV_PREFIX)]
    for name in names:
        env.pop(name, None)
    return names


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Ask the kernel for `sig` when the parent process dies (Linux; elsewhere a no-op)."""
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os.kill(os.getpid(), sig)


def watch_lifeline(
    stream: IO[bytes], loop: asyncio.AbstractEventLoop, on_eof: Callable[[], None]
) -> threading.Thread:
    """Call `on_eof` on `loop` once `stream` ends (its writer, the supervisor, is gone).

    A daemon thread blocks in read(): nothing is ever written after the secrets,
    so it wakes only on EOF (or on stray bytes, which are ignored).
    """

    def watch() -> None:
        with contextlib.suppress(OSError, ValueError):
            while stream.read(4096):
                pass
        log.warning("the supervisor is gone (stdin closed): snapshotting and shutting down")
        with contextlib.suppress(RuntimeError):  # the loop already closed
            loop.call_soon_threadsafe(on_eof)

    thread = threading.Thread(target=watch, name="lifeline", daemon=True)
    thread.start()
    return thread
