"""The supervisor's process handling, with fake instance processes (no Chromium)."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator

import pytest

from app.domain.events import EngineEvent, InstanceLoad, QrIssued, SessionStateChanged
from app.engine.supervisor.client import InstanceClient
from app.engine.supervisor.supervisor import Supervisor, SupervisorConfig
from tests.engine.engine_support import FakeLauncher, eventually, grandchildren, running

FAST = SupervisorConfig(
    instances=2,
    capacity=10,
    ready_timeout=60,
    health_interval=0.2,
    health_timeout=1.0,
    health_failures=3,
    sample_interval=0.2,
    backoff_initial=0.2,
    backoff_max=1.0,
    failover_after=3,
    stop_grace=3.0,
)


class Recorder:
    def __init__(self) -> None:
        self.events: list[EngineEvent] = []
        self.down: list[str] = []
        self.ready: list[str] = []

    def __call__(self, event: EngineEvent) -> None:
        self.events.append(event)

    async def on_down(self, instance_id: str) -> None:
        self.down.append(instance_id)

    async def on_ready(self, instance_id: str, client: InstanceClient) -> None:
        self.ready.append(instance_id)


@pytest.fixture
async def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def supervisor(fake_launcher: FakeLauncher, recorder: Recorder) -> AsyncIterator[Supervisor]:
    sup = Supervisor(
        config=FAST,
        launcher=fake_launcher,
        on_event=recorder,
        on_ready=recorder.on_ready,
        on_down=recorder.on_down,
    )
    try:
        yield sup
    finally:
        await sup.aclose()


async def test_starts_every_instance_and_reports_their_whole_process_tree(
    supervisor: Supervisor, recorder: Recorder, fake_launcher: FakeLauncher
) -> None:
    await supervisor.start()
    infos = supervisor.instances()
    assert [i.instance_id for i in infos] == ["instance-0", "instance-1"]
    assert all(i.alive and i.pid and i.url.startswith("http://127.0.0.1:") for i in infos)
    await eventually(lambda: sorted(recorder.ready) == ["instance-0", "instance-1"], what="ready")
    # The fake's grandchild sleeps in its own process group, like Chromium; it
    # counts towards the instance's memory.
    await eventually(
        lambda: any(
            isinstance(e, InstanceLoad) and e.alive and e.memory_bytes > 20_000_000
            for e in recorder.events
        ),
        what="a load sample of the tree",
    )
    # The warm pool's fill level from /health reaches the load events and the cards.
    await eventually(
        lambda: (
            {
                e.instance_id
                for e in recorder.events
                if isinstance(e, InstanceLoad) and (e.warm_ready, e.warm_target) == (1, 2)
            }
            == {"instance-0", "instance-1"}
        ),
        what="the warm pool's fill level in the load events",
    )
    assert all((i.warm_ready, i.warm_target) == (1, 2) for i in supervisor.instances())


async def test_relays_instance_events_tagged_with_the_instance(
    supervisor: Supervisor, recorder: Recorder
) -> None:
    await supervisor.start()
    await eventually(lambda: len(recorder.ready) == 2, what="streams open")
    client = supervisor.client("instance-1")
    assert client is not None
    await client.start_session("webjs_7_1700000000_abcdefgh")
    await eventually(
        lambda: any(isinstance(e, QrIssued) for e in recorder.events), what="a relayed QR"
    )
    relayed = [e for e in recorder.events if isinstance(e, SessionStateChanged | QrIssued)]
    assert all(e.instance_id == "instance-1" for e in relayed)


async def test_a_killed_instance_is_restarted_and_its_orphans_are_killed(
    supervisor: Supervisor, fake_launcher: FakeLauncher, recorder: Recorder
) -> None:
    await supervisor.start()
    before = supervisor.info("instance-0")
    assert before is not None
    await eventually(lambda: len(grandchildren(fake_launcher.folder)) == 2, what="grandchildren")
    # Let a sample see the grandchild, then kill the instance the hard way. A
    # sample already running when the grandchild appeared may have missed it,
    # so wait for the second one after.
    seen = len(recorder.events)

    def samples_since() -> int:
        return sum(
            isinstance(e, InstanceLoad) and e.alive and e.instance_id == "instance-0"
            for e in recorder.events[seen:]
        )

    await eventually(lambda: samples_since() >= 2, what="two samples of instance-0")
    old_children = grandchildren(fake_launcher.folder)
    os.kill(before.pid, signal.SIGKILL)

    def restarted() -> bool:
        info = supervisor.info("instance-0")
        return info is not None and info.alive and info.pid != before.pid

    await eventually(restarted, what="instance-0 back")
    after = supervisor.info("instance-0")
    assert after is not None and after.restarts == 1 and len(after.restart_history) == 1
    # The grandchild of the killed instance did not outlive it; instance-1's still runs.
    gone = [pid for pid in old_children if not running(pid)]
    assert len(gone) == 1
    assert any(isinstance(e, InstanceLoad) and not e.alive for e in recorder.events)
    assert recorder.down == []  # one crash is not a reason to move sessions


async def test_a_hung_instance_is_restarted(supervisor: Supervisor) -> None:
    await supervisor.start()
    before = supervisor.info("instance-1")
    client = supervisor.client("instance-1")
    assert before is not None and client is not None
    await client._client.post("fake/hang")

    def replaced() -> bool:
        info = supervisor.info("instance-1")
        return info is not None and info.alive and info.pid != before.pid

    await eventually(replaced, what="hung instance replaced")
    assert not running(before.pid)


async def test_repeated_start_failures_back_off_then_hand_the_sessions_over(
    supervisor: Supervisor, fake_launcher: FakeLauncher, recorder: Recorder
) -> None:
    fake_launcher.env_for[1] = {"FAKE_FAIL_START": "1"}
    await supervisor.start()
    info = supervisor.info("instance-1")
    assert info is not None and not info.alive
    await eventually(lambda: recorder.down == ["instance-1"], what="failover hook")
    # Fixed, it comes back by itself on the next attempt.
    fake_launcher.env_for.clear()
    await eventually(
        lambda: bool((i := supervisor.info("instance-1")) and i.alive), what="recovered"
    )
    assert fake_launcher.launched.count(1) >= FAST.failover_after + 1


async def test_restart_and_add_instance(supervisor: Supervisor) -> None:
    await supervisor.start()
    before = supervisor.info("instance-0")
    assert before is not None
    await supervisor.restart_instance("instance-0")
    await eventually(
        lambda: bool((i := supervisor.info("instance-0")) and i.alive and i.pid != before.pid)
    )
    added = await supervisor.add_instance()
    assert added.instance_id == "instance-2" and added.alive
    assert set(supervisor.live_capacities()) == {"instance-0", "instance-1", "instance-2"}


@pytest.mark.parametrize("ignore_term", [False, True], ids=["graceful", "needs-sigkill"])
async def test_aclose_leaves_no_process_behind(
    fake_launcher: FakeLauncher, recorder: Recorder, ignore_term: bool
) -> None:
    if ignore_term:
        fake_launcher.env_for = {0: {"FAKE_IGNORE_TERM": "1"}, 1: {"FAKE_IGNORE_TERM": "1"}}
    config = SupervisorConfig(**{**FAST.__dict__, "stop_grace": 0.5})
    sup = Supervisor(config=config, launcher=fake_launcher, on_event=recorder)
    await sup.start()
    pids = [i.pid for i in sup.instances()]
    await eventually(lambda: len(grandchildren(fake_launcher.folder)) == 2)
    await sup.aclose()
    survivors = [p for p in pids + grandchildren(fake_launcher.folder) if running(p)]
    assert survivors == []
