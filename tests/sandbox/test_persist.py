"""The simulator's optional memory of linked devices (`SandboxOptions.state_file`):
a restarted simulator still knows them, so saved logins need no new QR."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path
from typing import Any

from app.sandbox import SandboxOptions, SandboxWorld
from app.sandbox._model import Page

IDENTITY = base64.b64encode(bytes(range(32))).decode()
OTHER = base64.b64encode(bytes(range(1, 33))).decode()


async def _hello(world: SandboxWorld, identity: str) -> tuple[Page, list[dict[str, Any]]]:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def close(_code: int) -> None:
        return None

    page = world.open_page(send, close)
    await world.handle(
        page,
        {"type": "hello", "noise": OTHER, "identity": identity, "adv": OTHER, "platform": "WEB"},
    )
    return page, sent


async def test_linked_devices_survive_a_restart_and_unlinking_is_saved(tmp_path: Path) -> None:
    state = tmp_path / "data" / "sandbox-state.json"
    options = SandboxOptions(time_scale=0.01, state_file=str(state))
    first = SandboxWorld(options)
    page, _ = await _hello(first, IDENTITY)
    device = first.link(page, "6281234567890")
    await first.aclose()
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    assert [d["phone"] for d in json.loads(state.read_text())["devices"]] == ["6281234567890"]

    again = SandboxWorld(options)
    assert again.devices[device.account].identity == IDENTITY
    await _hello(again, IDENTITY)
    assert again.counters.restores == 1, "the saved login is let in without a QR"
    # The next device of that phone gets a new number, as on a real phone.
    page2, _ = await _hello(again, OTHER)
    assert again.link(page2, "6281234567890").device_id == device.device_id + 1
    await again.unlink(again.devices_of("6281234567890"), "remote")
    await again.aclose()
    assert SandboxWorld(options).devices == {}


async def test_an_unreadable_state_file_is_set_aside_and_the_world_starts_empty(
    tmp_path: Path,
) -> None:
    state = tmp_path / "sandbox-state.json"
    state.write_text('{"format": 1, "devices": [{"phone": ')
    world = SandboxWorld(SandboxOptions(state_file=str(state)))
    assert world.devices == {}
    assert (tmp_path / "sandbox-state.json.unreadable").is_file()
    page, _ = await _hello(world, IDENTITY)
    assert world.counters.restores == 0 and page.batches == 1  # a QR, as for a new device
    await world.aclose()
