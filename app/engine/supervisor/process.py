"""One instance child process: spawn, wait for its URL, sample its tree, stop it for good.

The child runs in its own process group (its own session) so a terminal's
Ctrl+C reaches only the supervisor, which then stops children in order. The
process tree (Python, the Playwright driver, Chromium and its helpers) is
remembered at every sample, because Playwright starts Chromium in a process
group of its own and, after a `kill -9` of the instance, those processes are
re-parented and no longer look like ours. `stop()` ends every process in that
remembered tree (matched by pid and start time, never by name), and nothing
else.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import psutil

__all__ = ["InstanceProcess", "InstanceStartError", "LaunchSpec", "TreeSample"]

_READY = re.compile(r"^instance: (https?://\S+)\s*$")
_SECRET_ENV = ("PAIRDESK_INSTANCE_TOKEN", "PAIRDESK_WEBHOOK_SECRET")


@dataclass(frozen=True)
class LaunchSpec:
    """How to start one instance: argv, extra environment and working folder.

    `stdin`: written first on the child's stdin (the secrets), which then stays
    open for the child's life as its lifeline (EOF: this process died).
    `secrets`: values kept out of the logs should the child ever print them."""

    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    stdin: bytes | None = None
    secrets: tuple[str, ...] = ()


@dataclass(frozen=True)
class TreeSample:
    """CPU% (100 = one core) and memory summed over the whole process tree.

    `memory_bytes` is the proportional set size (PSS: each shared page split
    among the processes sharing it). Resident size (RSS) counts Chromium's
    shared pages once per process and overstates a tree 3-4 times; it is kept
    as `rss_bytes`, and used where PSS cannot be read (not Linux).
    """

    cpu_percent: float
    memory_bytes: int
    processes: int
    rss_bytes: int = 0


class InstanceStartError(RuntimeError):
    """The instance did not come up; the message ends with its last output lines."""


class InstanceProcess:
    """A single run of one instance; make a new object for every restart."""

    def __init__(self, *, name: str, spec: LaunchSpec, logs: deque[str] | None = None) -> None:
        self.name = name
        self._spec = spec
        # The caller may share one buffer across restarts, so the output of the run
        # that crashed is still there to read after the next one started.
        self.logs: deque[str] = logs if logs is not None else deque(maxlen=400)
        self._recent: deque[str] = deque(maxlen=8)  # this run's last lines, for errors
        self.url = ""
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._ready: asyncio.Future[str] | None = None
        self._tree: dict[int, psutil.Process] = {}
        self._tree_lock = threading.Lock()  # sample() and stop() run in worker threads
        self._pss = 0
        self._next_pss = 0.0
        # Kept out of `logs` (shown in diagnostics) should the child ever print them.
        self._secrets = [v for k, v in spec.env.items() if k in _SECRET_ENV and len(v) >= 8]
        self._secrets += [v for v in spec.secrets if len(v) >= 8]

    @property
    def pid(self) -> int:
        return self._proc.pid if self._proc is not None else 0

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode if self._proc is not None else None

    async def start(self, *, timeout: float) -> str:
        """Spawn the child and return the URL it prints once it serves."""
        # Secrets of this process's own environment are not the child's business.
        inherited = {k: v for k, v in os.environ.items() if k not in _SECRET_ENV}
        env = {**inherited, **self._spec.env, "PYTHONUNBUFFERED": "1"}
        lifeline = self._spec.stdin is not None
        self._proc = await asyncio.create_subprocess_exec(
            *self._spec.argv,
            stdin=asyncio.subprocess.PIPE if lifeline else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
            cwd=self._spec.cwd,
            start_new_session=True,
        )
        self._remember(self._proc.pid)
        if lifeline and self._proc.stdin is not None:
            # Never closed by us: the kernel closes it when this process dies, however.
            self._proc.stdin.write(self._spec.stdin or b"")
            with contextlib.suppress(ConnectionError):
                await self._proc.stdin.drain()
        self.logs.append(f"--- {self.name} started, pid {self._proc.pid} ---")
        self._ready = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read_output(), name=f"{self.name}-output")
        try:
            async with asyncio.timeout(timeout):
                self.url = await self._ready
        except TimeoutError:
            await self.stop(grace=2.0)
            raise InstanceStartError(
                f"{self.name} did not report ready within {timeout:.0f} s" + self._tail()
            ) from None
        except InstanceStartError:
            await self.stop(grace=2.0)
            raise
        return self.url

    async def wait(self) -> int:
        """The child's exit status, as soon as it has exited."""
        assert self._proc is not None, "start() first"
        return await _exit_status(self._proc)

    def sample(self) -> TreeSample:
        """Sample the live tree (blocking, a few ms: call it from a worker thread)."""
        with self._tree_lock:
            return self._sample()

    def _sample(self) -> TreeSample:
        root = self._tree.get(self.pid)
        if root is None or self.returncode is not None:
            return TreeSample(0.0, 0, 0)
        try:
            for child in root.children(recursive=True):
                self._remember_proc(child)
        except psutil.Error:
            pass
        cpu = 0.0
        rss = 0
        alive = 0
        for pid, proc in list(self._tree.items()):
            try:
                with proc.oneshot():
                    cpu += proc.cpu_percent(interval=None)
                    rss += proc.memory_info().rss
                alive += 1
            except psutil.Error:
                del self._tree[pid]
        now = time.monotonic()
        if now >= self._next_pss:
            # Reading PSS walks every mapping (about 1.5 ms a process): with hundreds
            # of renderers, refresh it less often so it stays under 5% of one core.
            started = time.perf_counter()
            self._pss = _tree_pss(list(self._tree))
            self._next_pss = now + (time.perf_counter() - started) * 20
        memory = self._pss if self._pss else rss
        return TreeSample(cpu, memory, alive, rss)

    async def stop(self, *, grace: float) -> None:
        """SIGTERM, wait up to `grace`, then SIGKILL the group and every remembered process."""
        proc = self._proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(grace):
                    await _exit_status(proc)
            except TimeoutError:
                pass
        if proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        await asyncio.to_thread(self._kill_remembered)
        if proc is not None:
            await _exit_status(proc)
        if self._ready is not None and not self._ready.done():
            self._ready.cancel()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    # -------------------------------------------------------------- internals

    def _remember(self, pid: int) -> None:
        with self._tree_lock, contextlib.suppress(psutil.Error):
            self._remember_proc(psutil.Process(pid))

    def _remember_proc(self, proc: psutil.Process) -> None:
        if proc.pid not in self._tree:
            proc.cpu_percent(interval=None)  # primes the counter for the next sample
            self._tree[proc.pid] = proc

    def _kill_remembered(self) -> None:
        with self._tree_lock:
            self._kill_tree()

    def _kill_tree(self) -> None:
        root = self._tree.get(self.pid)
        if root is not None:
            with contextlib.suppress(psutil.Error):
                for child in root.children(recursive=True):
                    self._remember_proc(child)
        procs = list(self._tree.values())
        for proc in procs:
            # psutil.Process compares start times on signals, so a reused pid is safe.
            with contextlib.suppress(psutil.Error):
                proc.kill()
        psutil.wait_procs(procs, timeout=5)
        self._tree.clear()

    async def _read_output(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        stream = self._proc.stdout
        try:
            while True:
                try:
                    raw = await stream.readline()
                except ValueError:  # a line longer than the buffer limit
                    raw = await stream.read(65536)
                if not raw:
                    break
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                for secret in self._secrets:
                    line = line.replace(secret, "(redacted)")
                self.logs.append(line)
                self._recent.append(line)
                match = _READY.match(line)
                if match and self._ready is not None and not self._ready.done():
                    self._ready.set_result(match.group(1))
                elif os.environ.get("PAIRDESK_ECHO_INSTANCES"):
                    print(f"[{self.name}] {line}", file=sys.stderr)
        finally:
            if self._ready is not None and not self._ready.done():
                code = await _exit_status(self._proc)
                self._ready.set_exception(
                    InstanceStartError(f"{self.name} exited with status {code}" + self._tail())
                )

    def _tail(self, lines: int = 8) -> str:
        tail = list(self._recent)[-lines:]
        return (":\n  " + "\n  ".join(tail)) if tail else " (it printed nothing)"


async def _exit_status(proc: asyncio.subprocess.Process) -> int:
    """Wait for the child itself to exit, not for its output pipe to close.

    On Python 3.11 `Process.wait()` returns only once every pipe to the child is
    closed too. A process the child started that inherited its stdout (and that
    no sample saw, so `stop()` could not kill it) keeps that pipe open, and the
    supervisor would wait for ever for an instance that is long dead. The
    return code is set as soon as the child is reaped, so poll it instead.
    """
    while (code := proc.returncode) is None:
        await asyncio.sleep(0.05)
    return code


def _tree_pss(pids: list[int]) -> int:
    """Summed PSS from /proc/PID/smaps_rollup (Linux 4.14+); 0 where it cannot be read."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
                for line in fh:
                    if line.startswith(b"Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except (OSError, ValueError, IndexError):
            continue
    return total
