"""The checks the first-run dialog runs in place, built where the store and sync live.

The console never imports the store or the sync client (import contracts in
`pyproject.toml`), so `pairdesk gui` hands the dialog these two coroutines:
the same signed probe as `pairdesk sync test`, and a database check that
opens the database and reads its schema revision without changing anything.
"""

from __future__ import annotations

import asyncio

from app.first_run import CheckOutcome, FirstRunChecks

CHECK_TIMEOUT = 10.0  # seconds; the operator is waiting in front of the dialog


async def test_connection(central_url: str, secret: str) -> CheckOutcome:
    from app.sync.probe import probe_webhook
    from app.sync.signing import Secret

    verdict = await probe_webhook(
        central_url=central_url.strip(), secret=Secret(secret.strip()), timeout=CHECK_TIMEOUT
    )
    return CheckOutcome(verdict.ok, verdict.headline, list(verdict.details))


async def check_database(url: str) -> CheckOutcome:
    return await asyncio.to_thread(_check_database, url.strip())


def _check_database(url: str) -> CheckOutcome:
    from app.store import (
        DatabaseTooNew,
        SchemaOutOfDate,
        StoreError,
        check_schema,
        create_engine_for,
        current_revision,
    )
    from app.store.errors import redact_url

    shown = redact_url(url)
    try:
        engine = create_engine_for(url)
    except StoreError as exc:
        return CheckOutcome(False, "not a database URL pairdesk can use", [str(exc)])
    try:
        if current_revision(engine) is None:
            return CheckOutcome(
                True,
                f"reached {shown}: the database is empty",
                ["pairdesk creates its tables there when the console starts"],
            )
        check_schema(engine)
        return CheckOutcome(
            True,
            f"reached {shown}: pairdesk's tables are there and up to date",
            ["the accounts already in it appear in the console"],
        )
    except SchemaOutOfDate:
        return CheckOutcome(
            True,
            f"reached {shown}: pairdesk's tables are there, from an older version",
            ["they are upgraded when the console starts"],
        )
    except DatabaseTooNew as exc:
        return CheckOutcome(False, f"{shown} belongs to a newer pairdesk", [str(exc)])
    except StoreError as exc:
        return CheckOutcome(False, f"cannot use {shown}", [str(exc)])
    finally:
        engine.dispose()


def checks() -> FirstRunChecks:
    return FirstRunChecks(test_connection=test_connection, check_database=check_database)
