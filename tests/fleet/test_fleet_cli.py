"""`pairdesk fleet status | add | drain | remove` against a fleet database."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine

from app.cli import _fleet, main
from app.fleet.leases import LeaseStore
from tests.fleet.conftest import add_accounts

pytestmark = pytest.mark.postgres


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    assert main(list(argv)) == 0
    return dict(json.loads(capsys.readouterr().out))


def test_status_lists_members_and_sessions_with_owner_and_epoch(
    fleet_url: str, fleet_engine: Engine, leases: LeaseStore, capsys: pytest.CaptureFixture[str]
) -> None:
    sids = add_accounts(fleet_engine, 3)
    leases.register("m1", advertise_url="http://127.0.0.1:9/", capacity=2, pid=1)
    leases.claim("m1", capacity=2, batch=2)
    data = _json(capsys, "fleet", "--fleet", fleet_url, "status", "--json")
    (member,) = data["members"]  # type: ignore[misc]
    assert member["name"] == "m1" and member["alive"] is True
    assert (member["sessions"], member["load"]) == (2, 1.0)
    rows = {s["session_id"]: s for s in data["sessions"]}  # type: ignore[attr-defined]
    assert set(rows) == set(sids)
    owned = [s for s in rows.values() if s["owner"] == "m1"]
    assert len(owned) == 2 and all(s["epoch"] == 1 for s in owned)
    assert all(s["state"] == "stopped" and s["qr"] is None for s in rows.values())
    assert main(["fleet", "--fleet", fleet_url, "status"]) == 0  # the table prints too
    assert "m1" in capsys.readouterr().out


def test_add_creates_an_account_the_fleet_places(
    fleet_url: str,
    leases: LeaseStore,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_fleet, "PLACE_WAIT", 0.2)
    data = _json(capsys, "fleet", "--fleet", fleet_url, "add", "--workspace", "42", "--json")
    sid = str(data["session_id"])
    assert sid.startswith("webjs_42_") and data["owner"] is None  # no member alive yet
    leases.register("m1", advertise_url="http://127.0.0.1:9/", capacity=5, pid=1)
    assert [lease.session_id for lease in leases.claim("m1", capacity=5, batch=5)] == [sid]


def test_drain_marks_the_member_and_remove_deletes_the_account(
    fleet_url: str, fleet_engine: Engine, leases: LeaseStore, capsys: pytest.CaptureFixture[str]
) -> None:
    (sid,) = add_accounts(fleet_engine, 1)
    leases.register("m1", advertise_url="http://127.0.0.1:9/", capacity=5, pid=1)
    assert main(["fleet", "--fleet", fleet_url, "drain", "m1"]) == 0
    assert leases.is_draining("m1")
    assert main(["fleet", "--fleet", fleet_url, "drain", "m1", "--off"]) == 0
    assert not leases.is_draining("m1")
    assert main(["fleet", "--fleet", fleet_url, "drain", "nobody"]) == 2
    assert main(["fleet", "--fleet", fleet_url, "remove", sid]) == 0
    assert leases.leases() == []  # the lease went with the account
    assert main(["fleet", "--fleet", fleet_url, "remove", sid]) == 2
    assert "no account" in capsys.readouterr().err


def test_without_a_fleet_the_command_says_what_to_set(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.delenv("PAIRDESK_FLEET_DATABASE_URL", raising=False)
    monkeypatch.chdir(str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert main(["fleet", "status"]) == 2
    assert "fleet_database_url" in capsys.readouterr().err
