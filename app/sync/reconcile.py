"""Pull and reconcile: the platform's expected accounts against pairdesk's own.

`GET {central_url}/api/whatsapp/accounts/active` lists the accounts the
platform expects to be connected (docs/SYNC.md). `compare` sets that
list against the accounts in pairdesk's store and returns a
`ReconcileReport`:

- `expected_missing`: the platform expects them, pairdesk has no such account
  (it was removed here, or lives in another pairdesk);
- `unexpected`: pairdesk holds a linked login for them, the platform does not
  expect them (it dropped the account, or never heard it was linked).

Only linked accounts count as "pairdesk has it" on the unexpected side: an
account still waiting for its first scan, or logged out by the phone, is not
something the platform is meant to expect yet (the reference API starts
expecting an account at its `session_ready`). The report is for the
operator: nothing is ever created or deleted because of it.

`Reconciler` runs the comparison on start and every `interval` seconds and
hands each report to `on_report` (the engine publishes it to the console);
`reconciling(...)` builds one with its own `CentralClient` for a process that
has a central URL, and nothing when sync is off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Protocol

import httpx

from app.config import Settings
from app.domain.events import ReconcileReport
from app.domain.models import SessionInfo
from app.domain.states import SessionState
from app.sync.client import ActiveAccount, CentralApiError, CentralClient

__all__ = ["ActiveSource", "Reconciler", "compare", "describe", "linked", "reconciling"]

log = logging.getLogger(__name__)

ListAccounts = Callable[[], Awaitable[Sequence[SessionInfo]]]
OnReport = Callable[[ReconcileReport], None]
Sleep = Callable[[float], Awaitable[None]]

_LINKED_STATES = frozenset({SessionState.PAIRING, SessionState.CONNECTED})


class ActiveSource(Protocol):
    """What the reconciler needs from `CentralClient`."""

    async def active_accounts(self) -> list[ActiveAccount]: ...


def linked(info: SessionInfo) -> bool:
    """Does pairdesk hold (or is it completing) a login for this account?"""
    if info.state is SessionState.LOGGED_OUT:
        return False
    return info.state in _LINKED_STATES or info.connected_at is not None


def compare(expected: Iterable[ActiveAccount], local: Iterable[SessionInfo]) -> ReconcileReport:
    """The two-way difference, each list sorted; nothing is changed anywhere."""
    wanted = {a.session_id for a in expected}
    accounts = list(local)
    have = {info.session_id for info in accounts}
    linked_here = {info.session_id for info in accounts if linked(info)}
    return ReconcileReport(
        expected_missing=tuple(sorted(wanted - have)),
        unexpected=tuple(sorted(linked_here - wanted)),
        expected=len(wanted),
        local=len(have),
    )


def describe(report: ReconcileReport, *, limit: int = 20) -> list[str]:
    """The report as lines for a terminal or a log, written for the operator."""
    if report.error:
        return [f"could not reconcile: {report.error}"]
    lines = [
        f"the platform expects {report.expected} account(s); pairdesk has {report.local}",
    ]
    if report.in_step:
        lines.append("in step: every expected account is here and every linked one is expected")
        return lines
    for title, ids, advice in (
        (
            "expected by the platform but missing in pairdesk",
            report.expected_missing,
            "add them in pairdesk (and scan), or have the platform stop expecting them",
        ),
        (
            "linked in pairdesk but not expected by the platform",
            report.unexpected,
            "check them on the platform; log them out here if they should be gone",
        ),
    ):
        if not ids:
            continue
        lines.append(f"{len(ids)} {title}:")
        lines.extend(f"  {sid}" for sid in ids[:limit])
        if len(ids) > limit:
            lines.append(f"  ... and {len(ids) - limit} more")
        lines.append(f"  -> {advice}")
    lines.append("nothing was created or deleted")
    return lines


def _few(ids: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(ids[:limit]) + (", ..." if len(ids) > limit else "")
    return f"({shown})" if ids else ""


class Reconciler:
    """Pulls the active list on start and every `interval` seconds; reports each comparison.

    A failed pull or store read becomes a report with `error` set (and is
    retried at the next interval); it never stops the loop.
    """

    def __init__(
        self,
        *,
        source: ActiveSource,
        list_accounts: ListAccounts,
        on_report: OnReport,
        interval: float,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if interval <= 0:
            raise ValueError("the reconcile interval must be above 0 seconds")
        self._source = source
        self._list_accounts = list_accounts
        self._on_report = on_report
        self._interval = interval
        self._sleep = sleep
        self._task: asyncio.Task[None] | None = None
        self.last: ReconcileReport | None = None

    async def run_once(self) -> ReconcileReport:
        """Pull, compare, report (also returned); errors end up in the report."""
        try:
            expected = await self._source.active_accounts()
        except CentralApiError as exc:
            report = ReconcileReport(error=f"the platform's active-account list: {exc}")
        else:
            try:
                local = await self._list_accounts()
            except Exception as exc:  # the store is the engine's; report, do not crash
                report = ReconcileReport(error=f"cannot read pairdesk's accounts: {exc}")
            else:
                report = compare(expected, local)
        self._log(report)
        self.last = report
        try:
            self._on_report(report)
        except Exception:  # a broken listener must not stop reconciling
            log.exception("reconcile report listener failed")
        return report

    def _log(self, report: ReconcileReport) -> None:
        previous = self.last
        unchanged = previous is not None and (
            previous.expected_missing,
            previous.unexpected,
            previous.error,
        ) == (report.expected_missing, report.unexpected, report.error)
        if unchanged:
            return
        if report.error:
            log.warning("reconcile failed: %s", report.error)
        elif report.in_step:
            log.info("reconcile: in step with the platform (%d account(s))", report.expected)
        else:
            log.warning(
                "reconcile: %d account(s) the platform expects are missing here %s; "
                "%d linked here are not expected by the platform %s (reported only)",
                len(report.expected_missing),
                _few(report.expected_missing),
                len(report.unexpected),
                _few(report.unexpected),
            )

    async def run(self) -> None:
        """Reconcile now and then every interval, until cancelled."""
        while True:
            await self.run_once()
            await self._sleep(self._interval)

    async def start(self) -> None:
        """Start the loop in a task this reconciler owns; `aclose()` stops it."""
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="reconciler")

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def __aenter__(self) -> Reconciler:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


@contextlib.asynccontextmanager
async def reconciling(
    settings: Settings,
    *,
    central_url: str,
    list_accounts: ListAccounts,
    on_report: OnReport,
    transport: httpx.AsyncBaseTransport | None = None,
) -> AsyncIterator[Reconciler | None]:
    """A running `Reconciler` with its own client for `central_url`; None when sync is off.

    `central_url` is the URL in effect (the embedded reference API's in
    sandbox mode). The pull repeats every `settings.pull_interval` seconds.
    """
    if not central_url:
        yield None
        return
    client = CentralClient.from_settings(
        settings, instance_url="", central_url=central_url, transport=transport
    )
    reconciler = Reconciler(
        source=client,
        list_accounts=list_accounts,
        on_report=on_report,
        interval=settings.pull_interval,
    )
    try:
        async with reconciler:
            yield reconciler
    finally:
        await client.aclose()
