"""The supervised instance: secrets from stdin, a clean environment, the lifeline."""

from __future__ import annotations

import asyncio
import io
import os

import pytest

from app.engine.instance import supervised


def test_secrets_line_round_trips() -> None:
    line = supervised.secrets_line(instance_token="tok", webhook_secret="sec")
    assert supervised.read_secrets(io.BytesIO(line + b"more")) == {
        "instance_token": "tok",
        "webhook_secret": "sec",
    }


@pytest.mark.parametrize("data", [b"", b'{"instance_token": "x"}', b"nope\n", b"[1]\n"])
def test_a_missing_or_bad_secrets_line_is_refused(data: bytes) -> None:
    with pytest.raises(supervised.SupervisedStartError, match="--supervised"):
        supervised.read_secrets(io.BytesIO(data))


def test_every_pairdesk_variable_is_scrubbed() -> None:
    env = {"PAIRDESK_INSTANCE_TOKEN": "t", "PAIRDESK_DATABASE_URL": "pg://u:pw@h", "HOME": "/h"}
    assert sorted(supervised.scrub_environment(env)) == [
        "PAIRDESK_DATABASE_URL",
        "PAIRDESK_INSTANCE_TOKEN",
    ]
    assert env == {"HOME": "/h"}


async def test_the_lifeline_fires_on_eof() -> None:
    read_fd, write_fd = os.pipe()
    stream = os.fdopen(read_fd, "rb", buffering=0)
    fired = asyncio.Event()
    thread = supervised.watch_lifeline(stream, asyncio.get_running_loop(), fired.set)
    os.write(write_fd, b"stray bytes are ignored")
    await asyncio.sleep(0.05)
    assert not fired.is_set()
    os.close(write_fd)  # what the kernel does when the supervisor dies
    async with asyncio.timeout(10):
        await fired.wait()
    thread.join(5)
    stream.close()
