"""Hostile bodies on the instance API: 422 naming the field, never a 500, nothing stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.engine.instance_harness import api_client, running_instance
from tests.store.conftest import postgres_url  # noqa: F401  (the fixture, for `database`)

SID = "webjs_42_1700000000_abcd1234"
JSON = {"Content-Type": "application/json"}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The instance's database: SQLite, and PostgreSQL (which refused NUL with a 500)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'pairdesk.db'}"
    return str(request.getfixturevalue("postgres_url"))


def _create(**fields: object) -> dict[str, object]:
    return {"workspace_id": 42, "session_id": SID, **fields}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_create(account_id=10**23), "account_id"),
        (_create(account_id=2**63), "account_id"),
        (_create(label="Toko\x00Budi"), "label"),
        (_create(label="Toko \ud800"), "label"),
        (_create(label="bell\x07"), "label"),
        (_create(proxy="http://pr\x00oxy:3128"), "proxy"),
        ({"workspace_id": 10**23, "session_id": SID}, "workspace id"),
    ],
    ids=["account-1e23", "account-2^63", "nul", "surrogate", "control", "proxy-nul", "ws-1e23"],
)
async def test_bad_fields_answer_422_naming_the_field(
    tmp_path: Path, database: str, body: dict[str, object], field: str
) -> None:
    async with (
        running_instance(tmp_path, database_url=database) as h,
        api_client(h.instance) as client,
    ):
        raw = json.dumps(body)  # ASCII escapes: a lone surrogate travels as \ud800
        response = await client.post("/api/sessions", content=raw, headers=JSON)
        listed = await client.get("/api/sessions")
    assert response.status_code == 422, response.text
    assert field in response.json()["error"]
    assert listed.json()["count"] == 0


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            b'{"workspace_id": 42, "session_id": "%s", "account_id": 1%s}'
            % (SID.encode(), b"0" * 5000),
            "account_id",
        ),
        (b'{"workspace_id": 1%s}' % (b"0" * 5000), "workspace id"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"label": "\xff\xfe"}', "not UTF-8"),
    ],
    ids=["5000-digit-account", "5000-digit-workspace", "deep", "not-utf8"],
)
async def test_bodies_that_crashed_the_parser_answer_422(
    tmp_path: Path, raw: bytes, expected: str
) -> None:
    async with running_instance(tmp_path) as h, api_client(h.instance) as client:
        response = await client.post("/api/sessions", content=raw, headers=JSON)
    assert response.status_code == 422, response.text
    assert expected in response.json()["error"]
