"""Running fleet members as real processes for the fault tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from app.domain.events import EngineEvent
from app.fleet.fleet_key import write_fleet_key

READY = re.compile(r"instance: (\S+)")
TOKEN = "fleet-test-token"
SECRET = "fleet-test-secret"


@dataclass
class Member:
    name: str
    proc: asyncio.subprocess.Process
    url: str
    log: Path
    tree: list[psutil.Process] = field(default_factory=list)

    def remember_tree(self) -> None:
        with contextlib.suppress(psutil.Error):
            self.tree = psutil.Process(self.proc.pid).children(recursive=True)

    def browsers_alive(self) -> list[psutil.Process]:
        """Processes of its tree (Chromium, the driver) still running (zombies excluded)."""
        alive = []
        for p in self.tree:
            with contextlib.suppress(psutil.Error):
                if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                    if "watchdog" not in " ".join(p.cmdline()):
                        alive.append(p)
        return alive

    def kill_everything(self) -> None:
        self.remember_tree()
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGCONT)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        for p in self.tree:
            with contextlib.suppress(psutil.Error):
                p.kill()


async def start_member(
    tmp_path: Path,
    name: str,
    *,
    fleet_url: str,
    sandbox_url: str,
    central_url: str = "",
    ttl: float = 6.0,
) -> Member:
    folder = tmp_path / name
    folder.mkdir(parents=True, exist_ok=True)
    key_file = tmp_path / "fleet.key"  # this test run's own, shared by its members
    if not key_file.exists():
        write_fleet_key(key_file)
    env = {
        "PAIRDESK_FLEET_KEY_FILE": str(key_file),
        **{k: v for k, v in os.environ.items() if not k.startswith("PAIRDESK_")},
        "PAIRDESK_INSTANCE_TOKEN": TOKEN,
        "PAIRDESK_WEBHOOK_SECRET": SECRET,
        "PAIRDESK_FLEET_DATABASE_URL": fleet_url,
        "PAIRDESK_LEASE_TTL": str(ttl),
        "PAIRDESK_LEASE_GRACE": "2",
        "PAIRDESK_LEASE_MARGIN": "1",
        "PAIRDESK_HEARTBEAT_INTERVAL": "1",
        "PYTHONUNBUFFERED": "1",
    }
    argv = [
        sys.executable, "-m", "app", "instance",
        "--name", name,
        "--provider-url", sandbox_url,
        "--central-url", central_url,
        "--database-url", f"sqlite:///{folder / 'unused.db'}",
        "--sessions-dir", str(folder / "sessions"),
        "--data-dir", str(folder / "data"),
        "--warm-pool", "0",
        "--time-scale", "0.2",
        "--max-sessions", "20",
    ]  # fmt: skip
    log = folder / "member.log"
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=str(folder),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=open(log, "ab"),  # the child owns it
        start_new_session=True,
    )
    assert proc.stdout is not None
    try:
        async with asyncio.timeout(60):
            while True:
                line = (await proc.stdout.readline()).decode()
                if not line:
                    raise AssertionError(f"{name} exited before it was ready:\n{log.read_text()}")
                match = READY.match(line.strip())
                if match:
                    return Member(name, proc, match.group(1), log)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        raise


def client(member_url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=member_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
    )


class CuttableProxy:
    """A TCP proxy to PostgreSQL that the test can cut (every connection dropped,
    new ones refused) and restore: a network partition between one member and
    its database, without touching the shared server."""

    def __init__(self, target_port: int = 5432) -> None:
        self.target_port = target_port
        self.port = 0
        self.cut = False
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}

    def partition(self) -> None:
        self.cut = True
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def heal(self) -> None:
        self.cut = False

    async def aclose(self) -> None:
        self.partition()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


async def next_event(
    events: asyncio.Queue[EngineEvent], kind: type, **match: object
) -> EngineEvent:
    """The next event of `kind` whose fields equal `match`, from a console's queue."""
    async with asyncio.timeout(90):  # a failure guard only
        while True:
            event = await events.get()
            if isinstance(event, kind) and all(getattr(event, k) == v for k, v in match.items()):
                return event
