"""Fleet members as processes for the `fleet` bench scenario, and its own database."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from app.bench._harness import Skip

READY = re.compile(r"instance: (\S+)")
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextlib.contextmanager
def scratch_database(admin_url: str) -> Iterator[str]:
    """A new, empty database on the server of `admin_url`; dropped afterwards."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(admin_url)
    name = f"pd_bench_{uuid.uuid4().hex[:10]}"
    conninfo = {
        "host": url.host or "127.0.0.1",
        "port": url.port or 5432,
        "user": url.username or "postgres",
        "password": url.password or "",
        "dbname": url.database or "postgres",
        "connect_timeout": 5,
    }
    try:
        with psycopg.connect(**conninfo, autocommit=True) as conn:  # type: ignore[arg-type]
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        raise Skip(f"no PostgreSQL to create a fleet database on ({exc})") from None
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(**conninfo, autocommit=True) as conn:  # type: ignore[arg-type]
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class MemberProcess:
    name: str
    proc: asyncio.subprocess.Process
    url: str
    token: str

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=60
        )

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)


async def start_member(
    folder: Path,
    name: str,
    *,
    fleet_url: str,
    provider_url: str,
    token: str,
    capacity: int,
    key_file: Path,
    chromium: str = "",
    lease: tuple[float, float, float] = (15.0, 5.0, 3.0),
) -> MemberProcess:
    folder.mkdir(parents=True, exist_ok=True)
    env = {
        "PAIRDESK_FLEET_KEY_FILE": str(key_file),  # one key for the whole fleet
        **{k: v for k, v in os.environ.items() if not k.startswith("PAIRDESK_")},
        "PAIRDESK_INSTANCE_TOKEN": token,
        "PAIRDESK_FLEET_DATABASE_URL": fleet_url,
        "PAIRDESK_CHROMIUM": chromium,
        "PAIRDESK_LEASE_TTL": str(lease[0]),
        "PAIRDESK_LEASE_GRACE": str(lease[1]),
        "PAIRDESK_LEASE_MARGIN": str(lease[2]),
        "PYTHONUNBUFFERED": "1",
    }
    argv = [
        sys.executable,
        "-m",
        "app",
        "instance",
        "--name",
        name,
        "--provider-url",
        provider_url,
        "--sessions-dir",
        str(folder / "sessions"),
        "--data-dir",
        str(folder),
        "--warm-pool",
        "0",
        "--max-sessions",
        str(capacity),
        "--log-level",
        "WARNING",
    ]
    log = folder / "member.log"
    with open(log, "ab") as err:
        proc = await asyncio.create_subprocess_exec(
            *argv, env=env, stdout=asyncio.subprocess.PIPE, stderr=err, start_new_session=True
        )
    assert proc.stdout is not None
    async with asyncio.timeout(120):
        while True:
            line = (await proc.stdout.readline()).decode()
            if not line:
                raise RuntimeError(f"member {name} exited before it was ready; see {log}")
            match = READY.match(line.strip())
            if match:
                return MemberProcess(name, proc, match.group(1), token)
