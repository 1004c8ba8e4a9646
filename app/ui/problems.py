"""What stops work right now, in the operator's words (no Qt).

The console recomputes the list every second from what it already holds
(the engine's start failure, the instances, the sync status, the sessions);
the banner area shows exactly that list, so a banner disappears by itself
the moment its cause is gone. Each problem says what happened, what it
affects and what to do, with the same fix line `pairdesk doctor` prints.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from app.domain.events import SyncStatus
from app.domain.models import InstanceInfo
from app.operator import text as fmt

# The doctor's own fix lines (app/engine/doctor.py), repeated where a banner needs them.
FIX_DATABASE = "check database_url (PAIRDESK_DATABASE_URL) and that the server is running"
FIX_CHROMIUM = "run `make setup`, or set PAIRDESK_CHROMIUM to a working Chromium"
FIX_CENTRAL = "check central_url and the network"
FIX_DISK = "free disk space in the sessions folder (at least 1 GiB)"
DOCTOR = "then run `pairdesk doctor`"

# A central API that has not taken an event for this long is "unreachable".
CENTRAL_PATIENCE = 30.0
DISK_FULL = "disk_full"  # the session reason for a full sessions disk


@dataclass(frozen=True)
class Problem:
    key: str  # one banner per key
    what: str
    affects: str
    todo: str

    @property
    def text(self) -> str:
        return f"{self.what}. {self.affects}. What to do: {self.todo}."


@dataclass(frozen=True)
class Snapshot:
    """What the console knows now; every field has a harmless default."""

    engine_error: str = ""
    instances: tuple[InstanceInfo, ...] = ()
    down_since: Mapping[str, datetime] | None = None
    sync: SyncStatus | None = None
    accounts: int = 0
    per_instance: Mapping[str, int] | None = None  # accounts placed on each instance
    disk_full: int = 0  # accounts stopped with reason `disk_full`


def find_problems(state: Snapshot) -> list[Problem]:
    problems: list[Problem] = []
    if state.engine_error:
        problems.append(_engine_problem(state.engine_error))
        return problems  # nothing else runs without the engine
    problems += _instance_problems(state)
    problems += _central_problems(state.sync)
    problems += _disk_problems(state.disk_full)
    return problems


def _engine_problem(message: str) -> Problem:
    message = message.removeprefix("The engine did not start: ")
    lowered = message.lower()
    affects = "No account can be shown, started or linked until the engine starts"
    if any(w in lowered for w in ("database", "psycopg", "sqlite", "postgres", "store")):
        return Problem(
            "database",
            f"The database is unreachable ({_short(message)})",
            affects,
            f"{FIX_DATABASE}; {DOCTOR}; the console retries by itself",
        )
    if "chromium" in lowered:
        return Problem(
            "chromium",
            f"Chromium is missing ({_short(message)})",
            affects,
            f"{FIX_CHROMIUM}; {DOCTOR}",
        )
    return Problem(
        "engine",
        f"The engine did not start ({_short(message)})",
        affects,
        f"{DOCTOR}; the console retries by itself",
    )


def _instance_problems(state: Snapshot) -> list[Problem]:
    # Down: it ran once or failed to start; one still starting for the first time is not.
    down = [i for i in state.instances if not i.alive and (i.started_at or i.last_error)]
    if not down:
        return []
    if all("chromium" in i.last_error.lower() for i in down) and len(down) == len(state.instances):
        return [
            Problem(
                "chromium",
                f"Chromium is missing: no instance can start ({_short(down[0].last_error)})",
                (
                    f"{state.accounts} account(s) cannot show a QR or stay connected"
                    if state.accounts
                    else "No account can show a QR or stay connected"
                ),
                f"{FIX_CHROMIUM}; {DOCTOR}",
            )
        ]
    problems = []
    since = state.down_since or {}
    for info in down:
        on_it = (state.per_instance or {}).get(info.instance_id, 0)
        when = since.get(info.instance_id)
        age = f" since {when:%H:%M:%S}" if when is not None else ""
        why = f": {info.last_error}" if info.last_error else ""
        fix = FIX_CHROMIUM if "chromium" in info.last_error.lower() else "it restarts by itself"
        problems.append(
            Problem(
                f"instance:{info.instance_id}",
                f"Instance {info.instance_id} is down{age}{why}",
                f"Its {on_it} account(s) move to the other instances or wait for it",
                f"{fix}; the Instances view shows its log; {DOCTOR}",
            )
        )
    return problems


def _central_problems(sync: SyncStatus | None) -> list[Problem]:
    if sync is None or not sync.enabled or not sync.pending or not sync.last_error:
        return []
    if sync.oldest_pending_age < CENTRAL_PATIENCE:
        return []
    return [
        Problem(
            "central",
            f"The central API is not taking events ({_short(sync.last_error)})",
            f"{sync.pending} event(s) wait in the outbox, oldest "
            f"{fmt.duration(sync.oldest_pending_age)}; the platform does not see new QRs "
            "or states",
            f"{FIX_CENTRAL}; {DOCTOR}; waiting events are sent when it answers",
        )
    ]


def is_disk_full(reason: object) -> bool:
    return reason is not None and str(reason) == DISK_FULL


def _disk_problems(full: int) -> list[Problem]:
    if not full:
        return []
    return [
        Problem(
            "disk_full",
            "The sessions disk is full",
            f"{full} account(s) stopped because their login state cannot be saved",
            f"{FIX_DISK}, then restart them; {DOCTOR}",
        )
    ]


def _short(message: str) -> str:
    """One line: an instance's error often says where on line 1 and why on line 2."""
    text = " ".join(message.split()) or "no detail"
    return text if len(text) <= 220 else text[:217] + "…"
