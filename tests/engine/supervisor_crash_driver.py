"""A supervisor in a process of its own, for the supervisor-crash test (not a test module).

`python supervisor_crash_driver.py FOLDER PROVIDER_URL CENTRAL_URL SECRET N` starts
the real engine (1 instance, real Chromium) on FOLDER, adds N accounts when the
store has none, and prints one JSON object per line: every engine event
(`event_to_dict`), then `{"type": "instances", "pids": [...]}` once the instances
serve. It runs until killed; the test kills it with SIGKILL.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.bootstrap import build_engine  # noqa: E402
from app.config import Settings  # noqa: E402
from app.domain.events import event_to_dict  # noqa: E402
from app.domain.models import AccountSpec  # noqa: E402
from app.engine.supervisor.supervisor import SupervisorConfig  # noqa: E402


def say(body: dict[str, object]) -> None:
    print(json.dumps(body), flush=True)


async def main(folder: Path, provider_url: str, central_url: str, secret: str, n: int) -> None:
    settings = Settings.load(
        environ={},
        cwd=folder,
        flags={
            "data_dir": folder / "data",
            "sessions_dir": folder / "sessions",
            "provider_url": provider_url,
            "central_url": central_url,
            "webhook_secret": secret,
            "instances": 1,
            "max_sessions": 10,
            "time_scale": 0.2,
            "warm_pool": 0,
            "heartbeat_interval": 1,
        },
    )
    config = SupervisorConfig(instances=1, capacity=10, health_interval=0.5, stop_grace=20.0)
    engine = build_engine(settings, config=config)
    await engine.start()
    stream = engine.subscribe()

    async def pump() -> None:
        async for event in stream:
            say(event_to_dict(event))

    task = asyncio.create_task(pump())
    if not await engine.list_sessions():
        await engine.add_accounts([AccountSpec(workspace_id=21) for _ in range(n)])
    say({"type": "instances", "pids": [i.pid for i in await engine.list_instances()]})
    await task


if __name__ == "__main__":
    folder, provider, central, secret, count = sys.argv[1:6]
    asyncio.run(main(Path(folder), provider, central, secret, int(count)))
