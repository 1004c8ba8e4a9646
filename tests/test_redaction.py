"""Credentials inside central_url are never printed: sync status, sync test, doctor, bundle."""

from __future__ import annotations

import io
import socket
import zipfile
from pathlib import Path

import httpx
import pytest

from app.cli._sync import status, sync_test
from app.config import Settings
from app.engine.doctor import check_central
from app.operator.bundle import write_bundle
from app.redaction import redact_url
from app.sync.client import CentralApiError, CentralClient

PASSWORD = "hunter2-basic-auth"
TOKEN_USER = "tok_5f1e9a77c0"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"https://desk:{PASSWORD}@platform.test/api", "https://desk:***@platform.test/api"),
        (f"https://{TOKEN_USER}@platform.test:8443", "https://***@platform.test:8443"),
        (
            "https://platform.test/?api_key=abc&region=id",
            "https://platform.test/?api_key=***&region=id",
        ),
        ("https://platform.test/base", "https://platform.test/base"),
        ("sqlite:////var/lib/pairdesk/pairdesk.db", "sqlite:////var/lib/pairdesk/pairdesk.db"),
        (f"postgresql://pd:{PASSWORD}@db:5432/pd", "postgresql://pd:***@db:5432/pd"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _settings(tmp_path: Path) -> Settings:
    url = f"http://desk:{PASSWORD}@127.0.0.1:{_closed_port()}/"
    flags = {
        "data_dir": str(tmp_path / "data"),
        "sessions_dir": str(tmp_path / "s"),
        "central_url": url,
        "webhook_secret": "redaction-test-secret",
    }
    return Settings.load(environ={"HOME": str(tmp_path)}, cwd=tmp_path, flags=flags)


def test_sync_status_hides_the_password(tmp_path: Path) -> None:
    out = io.StringIO()
    status(_settings(tmp_path), out)
    assert PASSWORD not in out.getvalue() and "desk:***@127.0.0.1" in out.getvalue()


async def test_sync_test_hides_the_password(tmp_path: Path) -> None:
    out = io.StringIO()
    assert await sync_test(_settings(tmp_path), out) == 1  # nothing listens there
    text = out.getvalue()
    assert PASSWORD not in text and "cannot reach http://desk:***@127.0.0.1" in text

    def not_found(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, text="no")

    out = io.StringIO()
    await sync_test(_settings(tmp_path), out, transport=httpx.MockTransport(not_found))
    assert "wrong URL" in out.getvalue() and PASSWORD not in out.getvalue()


async def test_doctor_hides_the_password(tmp_path: Path) -> None:
    results = await check_central(_settings(tmp_path))
    assert results and all(PASSWORD not in f"{r.detail} {r.advice}" for r in results)
    assert "desk:***@" in results[0].detail


async def test_delivery_errors_kept_in_the_outbox_hide_the_password(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    async with CentralClient.from_settings(settings, instance_url="") as client:
        assert PASSWORD not in repr(client)
        with pytest.raises(CentralApiError) as caught:
            await client.active_accounts()
    assert PASSWORD not in str(caught.value) and "desk:***@" in str(caught.value)


def test_the_diagnostics_bundle_hides_the_password(tmp_path: Path) -> None:
    path = write_bundle(tmp_path / "b.zip", settings=_settings(tmp_path), sessions=[])
    with zipfile.ZipFile(path) as zf:
        blob = b"".join(zf.read(n) for n in zf.namelist())
    assert PASSWORD.encode() not in blob and b"desk:***@127.0.0.1" in blob


def test_sync_status_hides_the_password_in_errors_stored_by_older_versions(tmp_path: Path) -> None:
    import uuid
    from datetime import UTC, datetime

    from app.store import create_engine_for, outbox, session_factory, upgrade

    settings = _settings(tmp_path)
    raw = settings.central_url.rstrip("/")
    engine = create_engine_for(settings.effective_database_url)
    try:
        upgrade(engine)
        now = datetime.now(UTC)
        with session_factory(engine).begin() as session:
            event_id = uuid.uuid4()
            outbox.enqueue(
                session,
                event_id=event_id,
                session_id="s",
                name="session_ready",
                payload={},
                now=now,
            )
            outbox.mark_dead(session, event_id, now=now, status=None, error=f"cannot reach {raw}")
    finally:
        engine.dispose()
    out = io.StringIO()
    status(settings, out)
    assert PASSWORD not in out.getvalue()
    assert "cannot reach http://desk:***@127.0.0.1" in out.getvalue()
