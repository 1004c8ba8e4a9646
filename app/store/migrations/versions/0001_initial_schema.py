"""Initial schema: accounts, session_events, instances, import_batches, outbox.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('import_batches',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('file_name', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('rows_total', sa.Integer(), nullable=False),
    sa.Column('rows_valid', sa.Integer(), nullable=False),
    sa.Column('rows_created', sa.Integer(), nullable=False),
    sa.Column('results', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_batches'))
    )
    op.create_table('instances',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('index', sa.Integer(), nullable=False),
    sa.Column('url', sa.String(length=300), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('stopped_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cpu_percent', sa.Float(), nullable=False),
    sa.Column('memory_bytes', sa.BigInteger(), nullable=False),
    sa.Column('sessions_total', sa.Integer(), nullable=False),
    sa.Column('sessions_connected', sa.Integer(), nullable=False),
    sa.Column('restarts', sa.Integer(), nullable=False),
    sa.Column('restart_history', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_instances')),
    sa.UniqueConstraint('index', name=op.f('uq_instances_index'))
    )
    op.create_table('outbox',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.Uuid(), nullable=False),
    sa.Column('session_id', sa.String(length=128), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('last_status', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("state IN ('pending', 'sent', 'dead', 'superseded')", name=op.f('ck_outbox_state')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('event_id', name=op.f('uq_outbox_event_id'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_session_id', ['session_id'], unique=False)
        batch_op.create_index('ix_outbox_state_session_id_id', ['state', 'session_id', 'id'], unique=False)

    op.create_table('accounts',
    sa.Column('uuid', sa.Uuid(), nullable=False),
    sa.Column('session_id', sa.String(length=128), nullable=False),
    sa.Column('workspace_id', sa.BigInteger(), nullable=False),
    sa.Column('account_id', sa.BigInteger(), nullable=True),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('phone_number', sa.String(length=20), nullable=False),
    sa.Column('central_status', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=True),
    sa.Column('instance_id', sa.String(length=64), nullable=True),
    sa.Column('import_batch_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('connected_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('state_changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('heartbeat_latency_ms', sa.Float(), nullable=True),
    sa.Column('memory_bytes', sa.BigInteger(), nullable=False),
    sa.Column('qr_issued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('qr_count', sa.Integer(), nullable=False),
    sa.Column('restarts', sa.Integer(), nullable=False),
    sa.Column('extraction_method', sa.String(length=16), nullable=False),
    sa.Column('platform', sa.String(length=32), nullable=False),
    sa.Column('metadata', sa.JSON(), nullable=False),
    sa.CheckConstraint("central_status IN ('qr_scanning', 'authenticated', 'connected', 'disconnected', 'failed')", name=op.f('ck_accounts_central_status')),
    sa.CheckConstraint("reason IS NULL OR reason IN ('LOGOUT', 'CONFLICT', 'qr_expired', 'qr_limit', 'browser_crash', 'instance_restart', 'timeout', 'state_corrupt', 'user_initiated', 'error')", name=op.f('ck_accounts_reason')),
    sa.CheckConstraint("state IN ('stopped', 'starting', 'qr', 'qr_idle', 'pairing', 'connected', 'disconnected', 'logged_out', 'failed')", name=op.f('ck_accounts_state')),
    sa.ForeignKeyConstraint(['import_batch_id'], ['import_batches.id'], name=op.f('fk_accounts_import_batch_id_import_batches'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('uuid', name=op.f('pk_accounts')),
    sa.UniqueConstraint('session_id', name=op.f('uq_accounts_session_id'))
    )
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_accounts_import_batch_id'), ['import_batch_id'], unique=False)
        batch_op.create_index('ix_accounts_instance_id_state', ['instance_id', 'state'], unique=False)
        batch_op.create_index(batch_op.f('ix_accounts_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_accounts_workspace_id'), ['workspace_id'], unique=False)

    op.create_table('session_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('session_id', sa.String(length=128), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('previous', sa.String(length=16), nullable=True),
    sa.Column('reason', sa.String(length=32), nullable=True),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("previous IS NULL OR previous IN ('stopped', 'starting', 'qr', 'qr_idle', 'pairing', 'connected', 'disconnected', 'logged_out', 'failed')", name=op.f('ck_session_events_previous')),
    sa.CheckConstraint("reason IS NULL OR reason IN ('LOGOUT', 'CONFLICT', 'qr_expired', 'qr_limit', 'browser_crash', 'instance_restart', 'timeout', 'state_corrupt', 'user_initiated', 'error')", name=op.f('ck_session_events_reason')),
    sa.CheckConstraint("state IN ('stopped', 'starting', 'qr', 'qr_idle', 'pairing', 'connected', 'disconnected', 'logged_out', 'failed')", name=op.f('ck_session_events_state')),
    sa.ForeignKeyConstraint(['session_id'], ['accounts.session_id'], name=op.f('fk_session_events_session_id_accounts'), onupdate='CASCADE', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_session_events'))
    )
    with op.batch_alter_table('session_events', schema=None) as batch_op:
        batch_op.create_index('ix_session_events_at', ['at'], unique=False)
        batch_op.create_index('ix_session_events_session_id_id', ['session_id', 'id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('session_events', schema=None) as batch_op:
        batch_op.drop_index('ix_session_events_session_id_id')
        batch_op.drop_index('ix_session_events_at')

    op.drop_table('session_events')
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_accounts_workspace_id'))
        batch_op.drop_index(batch_op.f('ix_accounts_state'))
        batch_op.drop_index('ix_accounts_instance_id_state')
        batch_op.drop_index(batch_op.f('ix_accounts_import_batch_id'))

    op.drop_table('accounts')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_state_session_id_id')
        batch_op.drop_index('ix_outbox_session_id')

    op.drop_table('outbox')
    op.drop_table('instances')
    op.drop_table('import_batches')
