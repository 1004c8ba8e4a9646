"""An account's proxy in the store, and the gates' states and reasons the database now
accepts (on SQLite and PostgreSQL, after migration 0003_account_proxy)."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from app.domain.models import AccountSpec
from app.domain.proxy import InvalidProxy, parse_proxy
from app.domain.states import Reason, SessionState
from app.store import AccountNotFound, accounts
from app.store.models import Account

SECRET = "pa55:w/rd"
PROXY = parse_proxy("http://alice:pa55%3Aw%2Frd@proxy.example.com:3128")


def test_the_proxy_is_stored_apart_from_its_password(
    sessions: sessionmaker[Session], now: datetime
) -> None:
    with sessions.begin() as s:
        info = accounts.create_account(s, AccountSpec(workspace_id=7, proxy=PROXY), now=now)
    assert info.proxy == "http://alice@proxy.example.com:3128"
    assert SECRET not in repr(info)
    with sessions() as s:
        assert accounts.proxy_of(s, info.session_id) == PROXY
        row = s.scalar(select(Account).where(Account.session_id == info.session_id))
        assert row is not None and SECRET not in row.proxy_url
    with sessions.begin() as s:
        cleared = accounts.set_proxy(s, info.session_id, None)
    assert cleared.proxy == ""
    with sessions() as s:
        assert accounts.proxy_of(s, info.session_id) is None
        with pytest.raises(AccountNotFound):
            accounts.set_proxy(s, "webjs_7_1_nobodyyy", PROXY)


def test_a_damaged_stored_proxy_is_refused_not_dropped(
    sessions: sessionmaker[Session], now: datetime
) -> None:
    with sessions.begin() as s:
        info = accounts.create_account(s, AccountSpec(workspace_id=7, proxy=PROXY), now=now)
        s.execute(
            text("UPDATE accounts SET proxy_url = 'gopher://x' WHERE session_id = :sid"),
            {"sid": info.session_id},
        )
    with sessions() as s, pytest.raises(InvalidProxy):
        accounts.proxy_of(s, info.session_id)


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ([SessionState.PAIRING, SessionState.PASSKEY_REQUIRED], Reason.PASSKEY_REQUIRED),
        ([SessionState.QR, SessionState.FAILED], Reason.TOS_BLOCK),
        ([SessionState.FAILED], Reason.PROXY_UNREACHABLE),
        ([SessionState.QR, SessionState.FAILED], Reason.DEPRECATED_VERSION),
    ],
)
def test_the_gates_states_and_reasons_are_recorded(
    sessions: sessionmaker[Session], now: datetime, path: list[SessionState], reason: Reason
) -> None:
    with sessions.begin() as s:
        info = accounts.create_account(s, AccountSpec(workspace_id=7), now=now)
        accounts.record_transition(s, info.session_id, SessionState.STARTING, at=now)
        if path[0] is SessionState.PAIRING:
            accounts.record_transition(s, info.session_id, SessionState.QR, at=now)
        for state in path:
            accounts.record_transition(s, info.session_id, state, at=now, reason=reason)
    with sessions() as s:
        stored = accounts.get_account(s, info.session_id)
    assert stored.state is path[-1] and stored.reason is reason
