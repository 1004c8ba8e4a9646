"""The `disk_full` reason (issue 10): a session running on its last saved login
because the sessions folder's disk is full.

Widens the CHECK constraints of the reason columns of `accounts` and
`session_events`. The value lists are written out here (not read from
`app.domain.states`) so this revision means the same thing forever.

Downgrading fails while any row still holds `disk_full` (the
narrower constraint would fail); such rows clear at the session's next
transition.

Revision ID: 0004_disk_full
Revises: 0003_account_proxy
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004_disk_full"
down_revision: str | None = "0003_account_proxy"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_REASONS = (
    "LOGOUT", "CONFLICT", "qr_expired", "qr_limit", "browser_crash", "instance_restart",
    "timeout", "state_corrupt", "user_initiated", "error", "PROXYBLOCK", "TOS_BLOCK",
    "SMB_TOS_BLOCK", "DEPRECATED_VERSION", "proxy_unreachable", "passkey_required",
)  # fmt: skip
_NEW_REASONS = (*_OLD_REASONS, "disk_full")

_TABLES = ("accounts", "session_events")


def _replace_reason_checks(reasons: Sequence[str]) -> None:
    listed = ", ".join(f"'{v}'" for v in reasons)
    for table in _TABLES:
        with op.batch_alter_table(table, recreate="auto") as batch:
            batch.drop_constraint(op.f(f"ck_{table}_reason"), type_="check")
            batch.create_check_constraint(
                op.f(f"ck_{table}_reason"), f"reason IS NULL OR reason IN ({listed})"
            )


def upgrade() -> None:
    _replace_reason_checks(_NEW_REASONS)


def downgrade() -> None:
    _replace_reason_checks(_OLD_REASONS)
