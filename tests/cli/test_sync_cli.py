"""`pairdesk sync`: status, retry-dead, test and reconcile, against a real store and the
reference central API, with right and wrong secrets and a clock that is off."""

from __future__ import annotations

import io
import logging
import socket
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from app.cli import main
from app.cli._sync import retry_dead, status, sync_reconcile, sync_test
from app.config import Settings
from app.domain.models import AccountSpec
from app.domain.outbox import OutboxState
from app.domain.states import SessionState
from app.sandbox.central import CentralServer
from app.sandbox.central_state import Account
from app.store import accounts, create_engine_for, outbox, session_factory, upgrade

SECRET = "cli-sync-secret-9d41e7b2"
NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def central() -> Iterator[CentralServer]:
    with CentralServer(SECRET) as server:
        yield server


@pytest.fixture(autouse=True)
def _clean(central: CentralServer) -> None:
    central.state.reset()


def settings_for(tmp_path: Path, **flags: object) -> Settings:
    base = {"data_dir": str(tmp_path / "data"), "sessions_dir": str(tmp_path / "sessions")}
    return Settings.load(environ={"HOME": str(tmp_path)}, cwd=tmp_path, flags=base | flags)


def platform(tmp_path: Path, central: CentralServer, secret: str = SECRET) -> Settings:
    return settings_for(tmp_path, central_url=central.url, webhook_secret=secret)


def open_store(settings: Settings) -> sessionmaker[Session]:
    engine = create_engine_for(settings.effective_database_url)
    upgrade(engine)
    return session_factory(engine)


def put(sessions: sessionmaker[Session], sid: str, name: str) -> uuid.UUID:
    with sessions.begin() as session:
        return outbox.enqueue(
            session, event_id=uuid.uuid4(), session_id=sid, name=name, payload={}, now=NOW
        ).event_id


def refuse(sessions: sessionmaker[Session], event_id: uuid.UUID, answer: str) -> None:
    with sessions.begin() as session:
        assert outbox.mark_dead(session, event_id, now=NOW, status=401, error=answer)


def run(fn: object, *args: object, **kw: object) -> tuple[int, str]:
    out = io.StringIO()
    code = fn(*args, out, **kw)  # type: ignore[operator]
    return code, out.getvalue()


async def run_async(fn: object, *args: object, **kw: object) -> tuple[int, str]:
    out = io.StringIO()
    code = await fn(*args, out, **kw)  # type: ignore[operator]
    return code, out.getvalue()


REFUSAL = (
    'HTTP 401: {"error":"unauthorized","reason":"signature mismatch"} (the central API '
    "refused the signature: check that webhook_secret matches the platform's)"
)


# ------------------------------------------------------------------ status


def test_status_before_anything_ran(tmp_path: Path) -> None:
    code, out = run(status, settings_for(tmp_path))
    assert code == 0
    assert "sandbox" in out and "no database yet" in out


def test_status_shows_counts_and_each_dead_event(tmp_path: Path, central: CentralServer) -> None:
    settings = platform(tmp_path, central)
    sessions = open_store(settings)
    dead = put(sessions, "webjs_7_1_deadbeef", "session_ready")
    refuse(sessions, dead, REFUSAL)
    put(sessions, "webjs_7_2_pending0", "session_authenticated")
    sent = put(sessions, "webjs_7_3_sent0000", "session_ready")
    with sessions.begin() as session:
        outbox.mark_sent(session, sent, now=NOW, status=200)
    code, out = run(status, settings, now=NOW.replace(minute=5))
    assert code == 1  # dead events wait for an operator
    assert f"on, to {central.url.rstrip('/')}" in out
    assert "pending     1, oldest 5 min old" in out
    assert "delivered   1" in out and "dead        1" in out
    assert f"{dead}  webjs_7_1_deadbeef  session_ready  HTTP 401" in out
    assert '{"error":"unauthorized","reason":"signature mismatch"}' in out
    assert "last error" in out and "pairdesk sync retry-dead" in out


def test_status_says_plainly_when_sync_is_off(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, provider_url="https://web.whatsapp.com/")
    code, out = run(status, settings)
    assert code == 0 and "sync is off: central_url is not set" in out


# -------------------------------------------------------------- retry-dead


def test_retry_dead_requeues_what_is_still_current(tmp_path: Path, central: CentralServer) -> None:
    settings = platform(tmp_path, central)
    sessions = open_store(settings)
    current = put(sessions, "s1", "session_ready")
    refuse(sessions, current, REFUSAL)
    overtaken = put(sessions, "s2", "session_authenticated")
    refuse(sessions, overtaken, REFUSAL)
    newer = put(sessions, "s2", "session_disconnected")
    with sessions.begin() as session:
        outbox.mark_sent(session, newer, now=NOW, status=200)
    code, out = run(retry_dead, settings, [])
    assert code == 0
    assert "moved 1 dead event(s) back to pending; a running instance sends them" in out
    assert "not retried, 1: a newer event for the session was already delivered" in out
    assert f"{overtaken}  s2  session_authenticated" in out
    with sessions() as session:
        assert outbox.get(session, current).state is OutboxState.PENDING  # type: ignore[union-attr]
        assert outbox.get(session, overtaken).state is OutboxState.SUPERSEDED  # type: ignore[union-attr]
    assert run(retry_dead, settings, []) == (0, "no dead events; nothing to retry\n")


def test_retry_dead_by_id_and_unknown_ids(tmp_path: Path, central: CentralServer) -> None:
    settings = platform(tmp_path, central)
    sessions = open_store(settings)
    one, two = put(sessions, "a", "session_ready"), put(sessions, "b", "session_ready")
    refuse(sessions, one, REFUSAL)
    refuse(sessions, two, REFUSAL)
    stranger = uuid.uuid4()
    code, out = run(retry_dead, settings, [one, stranger])
    assert code == 1
    assert "moved 1 dead event(s)" in out and f"no dead event {stranger}" in out
    with sessions() as session:
        assert outbox.get(session, two).state is OutboxState.DEAD  # type: ignore[union-attr]


def test_a_malformed_event_id_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    argv = ["sync", "--data-dir", str(tmp_path / "d"), "retry-dead", "--event-id", "nope"]
    assert main(argv) == 2
    assert "is not an event id" in capsys.readouterr().err


# -------------------------------------------------------------------- test


async def test_right_secret_is_accepted(tmp_path: Path, central: CentralServer) -> None:
    code, out = await run_async(sync_test, platform(tmp_path, central))
    assert code == 0
    assert "ok    signature and clock accepted" in out
    assert "HTTP 422" in out  # the harmless test event, refused for its content only
    assert central.state.events() == []  # nothing recorded on the platform


async def test_wrong_secret_is_explained(tmp_path: Path, central: CentralServer) -> None:
    code, out = await run_async(sync_test, platform(tmp_path, central, secret="an-old-secret"))
    assert code == 1
    assert "FAIL  refused (HTTP 401): wrong secret" in out
    assert "webhook_secret" in out and "signature mismatch" in out
    assert "clock is within the window" in out
    assert "an-old-secret" not in out


@pytest.mark.parametrize(("offset", "side"), [(-1000, "behind"), (900, "ahead of")])
async def test_a_clock_that_is_off_is_explained(
    tmp_path: Path, central: CentralServer, offset: int, side: str
) -> None:
    settings = platform(tmp_path, central)
    code, out = await run_async(sync_test, settings, clock=lambda: time.time() + offset)
    assert code == 1
    assert "FAIL  refused (HTTP 401): this machine's clock is off" in out
    assert f"s {side} the API's" in out and "at most 300 s" in out


async def test_clock_skew_without_a_date_header_is_read_from_the_answer(tmp_path: Path) -> None:
    from app.sandbox.central import create_central_app

    app = create_central_app(SECRET)  # in-process: no server adds a Date header
    settings = settings_for(tmp_path, central_url="http://central.test", webhook_secret=SECRET)
    code, out = await run_async(
        sync_test, settings, clock=lambda: time.time() - 3600, transport=httpx.ASGITransport(app)
    )
    assert code == 1 and "clock is off" in out


async def test_wrong_url_is_explained(tmp_path: Path, central: CentralServer) -> None:
    settings = settings_for(tmp_path, central_url=central.url + "platform", webhook_secret=SECRET)
    code, out = await run_async(sync_test, settings)
    assert code == 1 and "wrong URL" in out and "HTTP 404" in out


async def test_a_login_page_answering_401_means_a_wrong_url(tmp_path: Path) -> None:
    def login_page(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, html="<!DOCTYPE html><html><body>Please sign in</body></html>")

    settings = settings_for(tmp_path, central_url="http://intranet.test", webhook_secret=SECRET)
    code, out = await run_async(sync_test, settings, transport=httpx.MockTransport(login_page))
    assert code == 1 and "wrong URL" in out and "login page" in out


async def test_an_unreachable_api_is_explained(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = settings_for(tmp_path, central_url=f"http://127.0.0.1:{port}", webhook_secret=SECRET)
    code, out = await run_async(sync_test, settings)
    assert code == 1 and "cannot reach" in out and "unreachable" in out


async def test_sandbox_mode_tests_against_the_embedded_api(tmp_path: Path) -> None:
    code, out = await run_async(sync_test, settings_for(tmp_path))
    assert code == 0 and "sandbox mode" in out and "signature and clock accepted" in out


def test_sync_off_and_missing_secret_are_configuration_errors(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    data = ["--data-dir", str(tmp_path / "d")]
    assert main(["sync", *data, "--provider-url", "https://web.whatsapp.com/", "test"]) == 2
    assert "sync is off" in capsys.readouterr().err
    assert main(["sync", *data, "--central-url", "http://127.0.0.1:9", "test"]) == 2
    assert "no webhook secret" in capsys.readouterr().err


# --------------------------------------------------------------- reconcile


async def test_reconcile_reports_both_ways(tmp_path: Path, central: CentralServer) -> None:
    settings = platform(tmp_path, central)
    sessions = open_store(settings)
    with sessions.begin() as session:
        [here] = accounts.create_accounts(
            session, [AccountSpec(workspace_id=7, session_id="webjs_7_1_aaaaaaaa")], now=NOW
        )
        for state in (SessionState.STARTING, SessionState.PAIRING, SessionState.CONNECTED):
            accounts.record_transition(session, here.session_id, state, at=NOW)
        accounts.create_accounts(
            session, [AccountSpec(workspace_id=7, session_id="webjs_7_2_waiting0")], now=NOW
        )
    central.state.seed(Account(session_id="webjs_7_9_platform", workspace_id=7, expected=True))
    code, out = await run_async(sync_reconcile, settings)
    assert code == 1
    assert "the platform expects 1 account(s); pairdesk has 2" in out
    assert "missing in pairdesk:\n  webjs_7_9_platform" in out
    assert "not expected by the platform:\n  webjs_7_1_aaaaaaaa" in out
    assert "webjs_7_2_waiting0" not in out  # never linked: nothing the platform should expect
    assert "nothing was created or deleted" in out
    with sessions() as session:
        assert len(accounts.list_accounts(session)) == 2


async def test_reconcile_in_step_and_unreachable(tmp_path: Path, central: CentralServer) -> None:
    code, out = await run_async(sync_reconcile, platform(tmp_path, central))
    assert code == 0 and "in step" in out
    settings = settings_for(tmp_path, central_url="http://127.0.0.1:9", webhook_secret=SECRET)
    code, out = await run_async(sync_reconcile, settings)
    assert code == 1 and "could not reconcile" in out and "cannot reach" in out


# ------------------------------------------------------------------ secret


def test_the_secret_never_appears_in_output_logs_or_errors(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    central: CentralServer,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    caplog.set_level(logging.DEBUG)
    mine = "do-not-print-me-51c0ffee"
    sessions = open_store(settings_for(tmp_path))
    refuse(sessions, put(sessions, "s1", "session_ready"), REFUSAL)
    data = ["--data-dir", str(tmp_path / "data")]
    runs = [
        (central.url, mine, ["test"]),  # wrong secret: a 401 explained
        (central.url, mine, ["status"]),
        (central.url, mine, ["reconcile"]),
        (central.url, mine, ["retry-dead"]),
        ("http://127.0.0.1:9", mine, ["test"]),  # unreachable: an error path
        ("http://127.0.0.1:9", mine, ["reconcile"]),
    ]
    for url, secret, action in runs:
        monkeypatch.setenv("PAIRDESK_WEBHOOK_SECRET", secret)
        main(["sync", *data, "--central-url", url, *action])
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(mine)
    monkeypatch.delenv("PAIRDESK_WEBHOOK_SECRET")
    monkeypatch.setenv("PAIRDESK_WEBHOOK_SECRET_FILE", str(secret_file))
    main(["sync", *data, "--central-url", central.url, "test"])
    captured = capsys.readouterr()
    everything = captured.out + captured.err + caplog.text
    assert "wrong secret" in everything and "cannot reach" in everything
    assert mine not in everything
    assert SECRET not in everything
