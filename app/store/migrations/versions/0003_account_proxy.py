"""Account proxy; the passkey state and the gate reasons (pairing code, passkey, blocks, proxy).

Adds `accounts.proxy_url` (the proxy without its password) and
`accounts.proxy_password`, and widens the CHECK constraints of the state and
reason columns for the `passkey_required` state and the reasons `PROXYBLOCK`,
`TOS_BLOCK`, `SMB_TOS_BLOCK`, `DEPRECATED_VERSION`, `proxy_unreachable` and
`passkey_required`. The value lists are written out here (not read from
`app.domain.states`) so this revision means the same thing forever.

Downgrading refuses to run while any row still holds one of the new values
(the narrower constraints would fail); move those sessions first.

Revision ID: 0003_account_proxy
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_account_proxy"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_STATES = (
    "stopped", "starting", "qr", "qr_idle", "pairing", "connected", "disconnected",
    "logged_out", "failed",
)  # fmt: skip
_NEW_STATES = (
    "stopped", "starting", "qr", "qr_idle", "pairing", "passkey_required", "connected",
    "disconnected", "logged_out", "failed",
)  # fmt: skip
_OLD_REASONS = (
    "LOGOUT", "CONFLICT", "qr_expired", "qr_limit", "browser_crash", "instance_restart",
    "timeout", "state_corrupt", "user_initiated", "error",
)  # fmt: skip
_NEW_REASONS = _OLD_REASONS + (
    "PROXYBLOCK", "TOS_BLOCK", "SMB_TOS_BLOCK", "DEPRECATED_VERSION", "proxy_unreachable",
    "passkey_required",
)  # fmt: skip

# (table, constraint, column, nullable)
_CHECKS = (
    ("accounts", "state", "state", False),
    ("accounts", "reason", "reason", True),
    ("session_events", "state", "state", False),
    ("session_events", "previous", "previous", True),
    ("session_events", "reason", "reason", True),
)


def _condition(column: str, values: Sequence[str], nullable: bool) -> str:
    listed = ", ".join(f"'{v}'" for v in values)
    return f"{column} IS NULL OR {column} IN ({listed})" if nullable else f"{column} IN ({listed})"


def _replace_checks(states: Sequence[str], reasons: Sequence[str]) -> None:
    for table in ("accounts", "session_events"):
        with op.batch_alter_table(table, recreate="auto") as batch:
            for owner, name, column, nullable in _CHECKS:
                if owner != table:
                    continue
                values = reasons if column == "reason" else states
                batch.drop_constraint(op.f(f"ck_{table}_{name}"), type_="check")
                batch.create_check_constraint(
                    op.f(f"ck_{table}_{name}"), _condition(column, values, nullable)
                )


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("proxy_url", sa.String(length=500), server_default="", nullable=False))
        batch.add_column(
            sa.Column("proxy_password", sa.String(length=500), server_default="", nullable=False)
        )
    _replace_checks(_NEW_STATES, _NEW_REASONS)


def downgrade() -> None:
    _replace_checks(_OLD_STATES, _OLD_REASONS)
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("proxy_password")
        batch.drop_column("proxy_url")
