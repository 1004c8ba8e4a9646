"""Pull and reconcile: the platform's active accounts against the store's, reported both ways."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest

from app.config import Settings
from app.domain.events import ReconcileReport, event_from_dict, event_to_dict
from app.domain.models import SessionInfo
from app.domain.states import SessionState
from app.sandbox.central import create_central_app
from app.sandbox.central_state import Account
from app.sync.client import ActiveAccount, CentralApiError
from app.sync.reconcile import Reconciler, compare, describe, linked, reconciling

from .conftest import SECRET

LINKED_AT = datetime(2026, 1, 1, tzinfo=UTC)


def info(
    sid: str, state: SessionState = SessionState.CONNECTED, *, was_linked: bool = True
) -> SessionInfo:
    return SessionInfo(
        session_id=sid,
        workspace_id=7,
        state=state,
        connected_at=LINKED_AT if was_linked else None,
    )


def active(*sids: str) -> list[ActiveAccount]:
    return [ActiveAccount(session_id=s, workspace_id=7) for s in sids]


def test_reports_both_ways_and_changes_nothing() -> None:
    local = [info("both"), info("only_here"), info("also_here", SessionState.DISCONNECTED)]
    report = compare(active("both", "only_there", "gone_too"), local)
    assert report.expected_missing == ("gone_too", "only_there")
    assert report.unexpected == ("also_here", "only_here")
    assert (report.expected, report.local) == (3, 3)
    assert not report.in_step and report.error == ""


def test_in_step() -> None:
    report = compare(active("a", "b"), [info("a"), info("b", SessionState.STOPPED)])
    assert report.in_step
    assert "in step" in describe(report)[-1]


def test_accounts_never_linked_or_logged_out_are_not_unexpected() -> None:
    """An account waiting for its first scan is not something the platform expects yet."""
    waiting = info("waiting", SessionState.QR, was_linked=False)
    failed_early = info("failed", SessionState.FAILED, was_linked=False)
    logged_out = info("logged_out", SessionState.LOGGED_OUT)
    pairing = info("pairing", SessionState.PAIRING, was_linked=False)
    assert not linked(waiting) and not linked(failed_early) and not linked(logged_out)
    assert linked(pairing)
    report = compare([], [waiting, failed_early, logged_out, pairing])
    assert report.unexpected == ("pairing",)
    # ... but the platform expecting one that pairdesk holds in any state is not "missing".
    assert compare(active("logged_out"), [logged_out]).expected_missing == ()


def test_describe_says_what_to_do_and_that_nothing_changed() -> None:
    text = "\n".join(describe(compare(active("x"), [info("y")])))
    assert "1 expected by the platform but missing in pairdesk:\n  x" in text
    assert "1 linked in pairdesk but not expected by the platform:\n  y" in text
    assert "nothing was created or deleted" in text
    many = compare(active(*[f"s{i:03d}" for i in range(30)]), [])
    assert "... and 10 more" in "\n".join(describe(many))


def test_report_round_trips_as_an_event() -> None:
    report = ReconcileReport(expected_missing=("a",), unexpected=("b", "c"), expected=1, local=2)
    assert event_from_dict(event_to_dict(report)) == report


class FakeSource:
    def __init__(self, *results: list[ActiveAccount] | Exception) -> None:
        self.results = list(results)
        self.calls = 0

    async def active_accounts(self) -> list[ActiveAccount]:
        result = self.results[min(self.calls, len(self.results) - 1)]
        self.calls += 1
        if isinstance(result, Exception):
            raise result
        return result


async def test_a_failed_pull_is_reported_and_the_loop_keeps_going() -> None:
    reports: list[ReconcileReport] = []
    sleeps: list[float] = []
    two_done = asyncio.Event()

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) >= 2:
            two_done.set()
            await asyncio.Event().wait()  # park here until aclose()

    async def local() -> list[SessionInfo]:
        return [info("a")]

    source = FakeSource(CentralApiError("http://central/...: cannot reach it"), active("a"))
    reconciler = Reconciler(
        source=source, list_accounts=local, on_report=reports.append, interval=300, sleep=sleep
    )
    async with reconciler:
        await asyncio.wait_for(two_done.wait(), 5)
    assert sleeps == [300, 300]
    assert "cannot reach it" in reports[0].error and not reports[0].in_step
    assert reports[1].in_step and reconciler.last == reports[1]
    assert describe(reports[0])[0].startswith("could not reconcile:")


async def test_a_store_error_is_reported_not_raised() -> None:
    async def broken() -> list[SessionInfo]:
        raise RuntimeError("database is locked")

    reconciler = Reconciler(
        source=FakeSource(active()), list_accounts=broken, on_report=lambda r: None, interval=1
    )
    report = await reconciler.run_once()
    assert "cannot read pairdesk's accounts: database is locked" in report.error


async def test_reconciling_pulls_the_reference_api_on_start() -> None:
    app = create_central_app(SECRET)
    central = app.state.central
    central.seed(Account(session_id="expected_1", workspace_id=7, expected=True))
    central.seed(Account(session_id="known_not_expected", workspace_id=7, expected=False))
    settings = Settings().with_overrides(
        central_url="http://central.test", webhook_secret=SECRET, pull_interval=3600
    )
    got: asyncio.Queue[ReconcileReport] = asyncio.Queue()

    async def local() -> list[SessionInfo]:
        return [info("local_1")]

    async with reconciling(
        settings,
        central_url=settings.central_url,
        list_accounts=local,
        on_report=got.put_nowait,
        transport=httpx.ASGITransport(app=app),
    ) as reconciler:
        assert reconciler is not None
        report = await asyncio.wait_for(got.get(), 5)
    assert report.expected_missing == ("expected_1",)
    assert report.unexpected == ("local_1",)


async def test_reconciling_is_nothing_with_sync_off() -> None:
    async def local() -> list[SessionInfo]:
        raise AssertionError("not called")

    async with reconciling(
        Settings(), central_url="", list_accounts=local, on_report=lambda r: None
    ) as reconciler:
        assert reconciler is None


def test_interval_must_be_positive() -> None:
    async def local() -> list[SessionInfo]:
        return []

    with pytest.raises(ValueError):
        Reconciler(source=FakeSource(active()), list_accounts=local, on_report=print, interval=0)
