"""One instance process: its exit and its stop, whatever it left behind."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from app.engine.supervisor.process import InstanceProcess, LaunchSpec
from tests.engine.engine_support import eventually, running

# A child that starts a grandchild in a session of its own which inherits the
# child's stdout (and so the pipe to the supervisor), then says it is ready.
_LEAVES_A_GRANDCHILD = """
import subprocess, sys, time
child = subprocess.Popen(
    [sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True
)
open(sys.argv[1], "w").write(str(child.pid))
print("instance: http://127.0.0.1:9", flush=True)
time.sleep(600)
"""


async def _start_leaving_a_grandchild(tmp_path: Path) -> tuple[InstanceProcess, int]:
    """The started child, and the pid of the grandchild it left."""
    pid_file = tmp_path / "grandchild.pid"
    process = InstanceProcess(
        name="instance-0",
        spec=LaunchSpec(argv=[sys.executable, "-c", _LEAVES_A_GRANDCHILD, str(pid_file)]),
    )
    await process.start(timeout=60)
    return process, int(pid_file.read_text())


async def test_a_child_killed_before_any_sample_is_seen_to_exit_and_stops(
    tmp_path: Path,
) -> None:
    # The grandchild still holds the pipe: no sample remembered it, so stop()
    # cannot kill it. Before, wait() and stop() waited for that pipe for ever.
    process, grandchild = await _start_leaving_a_grandchild(tmp_path)
    try:
        os.kill(process.pid, signal.SIGKILL)
        assert await asyncio.wait_for(process.wait(), timeout=60) == -signal.SIGKILL
        await asyncio.wait_for(process.stop(grace=1.0), timeout=60)
        assert running(grandchild)  # out of reach, as said; the test ends it below
    finally:
        os.kill(grandchild, signal.SIGKILL)
        await eventually(lambda: not running(grandchild), what="grandchild gone")


async def test_stop_ends_the_child_and_every_process_a_sample_saw(tmp_path: Path) -> None:
    process, grandchild = await _start_leaving_a_grandchild(tmp_path)
    try:
        sample = await asyncio.to_thread(process.sample)
        assert sample.processes == 2
        await asyncio.wait_for(process.stop(grace=1.0), timeout=60)
        assert process.returncode is not None
        assert not running(grandchild)
    finally:
        if running(grandchild):
            os.kill(grandchild, signal.SIGKILL)
