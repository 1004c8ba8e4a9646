"""The `pairdesk instance` wiring (server, token file, sandbox mode, webhook
delivery, clean stop) with the SessionHost replaced by the scripted fake."""

from __future__ import annotations

import asyncio
import errno
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.cli._instance import sandbox_stand_ins
from app.domain.events import EngineEvent
from app.engine.instance import runner as instance_runner
from app.engine.instance.runner import InstanceOptions, run_instance, write_token_file
from app.sandbox.central import CentralServer
from tests.engine.fake_session_host import FakeSessionHost
from tests.engine.instance_harness import TOKEN, make_settings

SID = "webjs_42_1700000000_abcd1234"


@dataclass
class Built:
    hosts: list[FakeSessionHost] = field(default_factory=list)
    provider_urls: list[str] = field(default_factory=list)


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> Built:
    record = Built()

    def factory(settings: Any, instance_id: str, provider_url: str) -> Callable[..., Any]:
        record.provider_urls.append(provider_url)

        def build(emit: Callable[[EngineEvent], None]) -> FakeSessionHost:
            host = FakeSessionHost(emit=emit, instance_id=instance_id)
            record.hosts.append(host)
            return host

        return build

    monkeypatch.setattr(instance_runner, "_host_factory", factory)
    return record


async def _serve(settings: Any, options: InstanceOptions) -> tuple[asyncio.Task[None], str, Any]:
    stop = asyncio.Event()
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def main() -> None:
        async with sandbox_stand_ins(settings) as (provider_url, central_url):
            await run_instance(
                settings,
                options,
                provider_url=provider_url,
                central_url=central_url,
                on_ready=ready.set_result,
                stop=stop,
            )

    task = asyncio.create_task(main())
    async with asyncio.timeout(20):
        url = await asyncio.shield(ready)
    return task, url, stop


async def test_sandbox_mode_serves_with_an_embedded_simulator(tmp_path: Path, built: Built) -> None:
    settings = make_settings(tmp_path)
    token_file = tmp_path / "run" / "token"
    options = InstanceOptions(index=3, token=TOKEN, token_file=token_file)
    task, url, stop = await _serve(settings, options)
    try:
        async with httpx.AsyncClient(base_url=url) as client:
            health = await client.get("health", headers={"Authorization": f"Bearer {TOKEN}"})
            sandbox_page = await client.get(built.provider_urls[0])
    finally:
        stop.set()
        await task
    assert health.json()["instance_id"] == "instance-3"
    assert sandbox_page.status_code == 200  # the embedded login simulator answered
    assert token_file.read_text().strip() == TOKEN
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert built.hosts[0].closed


async def test_webhooks_are_delivered_including_the_shutdown(tmp_path: Path, built: Built) -> None:
    with CentralServer("s3cret") as central:
        settings = make_settings(
            tmp_path,
            provider_url="http://127.0.0.1:9/",
            central_url=central.url,
            webhook_secret="s3cret",
        )
        task, url, stop = await _serve(settings, InstanceOptions(index=0, token=TOKEN))
        try:
            headers = {"Authorization": f"Bearer {TOKEN}"}
            async with httpx.AsyncClient(base_url=url, headers=headers) as client:
                created = await client.post(
                    "api/sessions", json={"workspace_id": 42, "session_id": SID}
                )
                assert created.status_code == 201
                built.hosts[0].scan(SID)
                async with asyncio.timeout(10):
                    while not central.state.events(event="session_ready"):
                        await asyncio.sleep(0.05)
        finally:
            stop.set()
            await task
        names = [e.event for e in central.state.events(session_id=SID)]
    assert names[-1] == "session_disconnected"
    assert central.state.events(event="session_disconnected")[-1].data["reason"] == (
        "instance_restart"
    )
    assert "session_authenticated" in names and "session_ready" in names
    assert central.state.rejections() == []


def test_a_leftover_temp_file_never_lends_the_token_its_wider_mode(tmp_path: Path) -> None:
    """An earlier writer's `token.tmp`, left 0644 by a crash, is not reused: the token
    (a bearer secret) is 0600 whatever lies beside it."""
    token_file = tmp_path / "token"
    leftover = tmp_path / "token.tmp"
    leftover.write_text("stale\n")
    leftover.chmod(0o644)
    write_token_file(token_file, TOKEN)
    assert token_file.read_text() == TOKEN + "\n"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600


def test_a_failed_token_write_leaves_the_old_token_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The token is synced before it replaces the old one; a full disk leaves the old one."""
    token_file = tmp_path / "token"
    write_token_file(token_file, "old-token")

    def full_disk(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space left"):
        write_token_file(token_file, TOKEN)
    assert token_file.read_text() == "old-token\n"
    assert [p.name for p in tmp_path.iterdir()] == ["token"]
