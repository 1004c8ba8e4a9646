"""Alembic environment for pairdesk's store, run programmatically by `app.store.db`.

`upgrade()` passes an open connection in `config.attributes["connection"]`;
the fallback builds an engine from `sqlalchemy.url` so that the alembic CLI
also works for developers (`alembic -x` is not needed).
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection

from app.store._types import UTCDateTime
from app.store.models import Base

config = context.config
target_metadata = Base.metadata


def _render_item(kind: str, obj: Any, autogen: AutogenContext) -> str | Literal[False]:
    # Revisions are frozen history: spell the app's column types as plain
    # SQLAlchemy types so a later change to `app.store._types` cannot alter them.
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds tables instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from app.store.db import create_engine_for

    engine = create_engine_for(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as own:
        _run(own)
        own.commit()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("pairdesk migrations run online only (they need a connection)")
run_migrations_online()
