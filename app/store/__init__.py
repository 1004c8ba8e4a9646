"""The store: SQLAlchemy models, repositories and Alembic migrations (docs/ARCHITECTURE.md).

Open a database with `create_engine_for(url)`, migrate it with `upgrade(url)`
(safe on every start), and make sessions with `session_factory(engine)`.
Repositories are plain functions in `accounts`, `timeline`, `instances`,
`imports` and `outbox`; each takes a `Session` and never commits, so the
caller decides what one unit of work is::

    engine = create_engine_for(settings.effective_database_url)
    upgrade(engine)
    Sessions = session_factory(engine)
    with Sessions.begin() as session:
        info = accounts.create_account(session, AccountSpec(workspace_id=7), now=now)
"""

from __future__ import annotations

from app.store import accounts, fleet_models, imports, instances, outbox, timeline
from app.store.db import (
    check_schema,
    create_engine_for,
    current_revision,
    head_revision,
    normalize_url,
    session_factory,
    upgrade,
)
from app.store.errors import (
    AccountNotFound,
    DatabaseTooNew,
    DatabaseUnavailable,
    DuplicateSessionId,
    InstanceNotFound,
    SchemaOutOfDate,
    StoreError,
)
from app.store.imports import ImportBatchNotFound

__all__ = [
    "AccountNotFound",
    "DatabaseTooNew",
    "DatabaseUnavailable",
    "DuplicateSessionId",
    "ImportBatchNotFound",
    "InstanceNotFound",
    "SchemaOutOfDate",
    "StoreError",
    "accounts",
    "fleet_models",
    "check_schema",
    "create_engine_for",
    "current_revision",
    "head_revision",
    "imports",
    "instances",
    "normalize_url",
    "outbox",
    "session_factory",
    "timeline",
    "upgrade",
]
