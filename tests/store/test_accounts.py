"""Accounts repository: creation rules, queries, transitions recorded atomically."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.domain.events import SessionHeartbeat
from app.domain.ids import (
    InvalidIdentifier,
    InvalidPhoneNumber,
    InvalidSessionId,
    InvalidWorkspaceId,
)
from app.domain.models import AccountSpec
from app.domain.outbox import OutboxDraft, OutboxState
from app.domain.states import IllegalTransition, Reason, SessionState
from app.store import AccountNotFound, DuplicateSessionId, accounts, outbox, timeline

S = SessionState


def test_create_makes_platform_form_ids_and_normalises(session: Session, now: datetime) -> None:
    created = accounts.create_accounts(
        session,
        [
            AccountSpec(workspace_id=7, label=" Front desk ", phone_number="+62 812-3456-7890"),
            AccountSpec(workspace_id=7, account_id=99),
        ],
        now=now,
    )
    session.commit()
    first, second = created
    assert first.session_id.startswith(f"webjs_7_{int(now.timestamp())}_")
    assert first.session_id != second.session_id
    assert first.label == "Front desk" and first.phone_number == "6281234567890"
    assert first.state is S.STOPPED and first.central_status == "disconnected"
    assert first.created_at == now and first.account_uuid
    assert accounts.get_account(session, second.session_id).account_id == 99


def test_explicit_session_id_kept(session: Session, now: datetime) -> None:
    info = accounts.create_account(
        session, AccountSpec(workspace_id=5, session_id="webjs_5_1700000000_AbCd1234"), now=now
    )
    assert info.session_id == "webjs_5_1700000000_AbCd1234"


def test_duplicate_rejected_and_nothing_created(session: Session, now: datetime) -> None:
    accounts.create_account(session, AccountSpec(workspace_id=1, session_id="acct-1"), now=now)
    session.commit()
    specs = [
        AccountSpec(workspace_id=1, session_id="acct-2"),
        AccountSpec(workspace_id=1, session_id="acct-1"),
    ]
    with pytest.raises(DuplicateSessionId) as caught:
        accounts.create_accounts(session, specs, now=now)
    assert caught.value.session_ids == ["acct-1"]
    assert "acct-1" in str(caught.value) and "nothing was created" in str(caught.value)
    assert accounts.find_account(session, "acct-2") is None


def test_duplicate_within_one_request(session: Session, now: datetime) -> None:
    spec = AccountSpec(workspace_id=1, session_id="twice")
    with pytest.raises(DuplicateSessionId, match="twice"):
        accounts.create_accounts(session, [spec, spec], now=now)
    assert accounts.list_accounts(session) == []


def test_transaction_usable_after_duplicate(sessions: sessionmaker[Session], now: datetime) -> None:
    with sessions.begin() as s:
        accounts.create_account(s, AccountSpec(workspace_id=1, session_id="a"), now=now)
    with sessions.begin() as s:
        with pytest.raises(DuplicateSessionId):
            accounts.create_account(s, AccountSpec(workspace_id=1, session_id="a"), now=now)
        accounts.create_account(s, AccountSpec(workspace_id=1, session_id="b"), now=now)
    with sessions() as s:
        assert [i.session_id for i in accounts.list_accounts(s)] == ["a", "b"]


@pytest.mark.parametrize(
    ("spec", "error", "text"),
    [
        (AccountSpec(workspace_id=0), InvalidWorkspaceId, "positive whole number"),
        (AccountSpec(workspace_id=3, phone_number="0812345678"), InvalidPhoneNumber, "country"),
        (AccountSpec(workspace_id=3, session_id="../etc"), InvalidSessionId, "letters, digits"),
        (
            AccountSpec(workspace_id=3, session_id="webjs_4_1700000000_abcdefgh"),
            InvalidSessionId,
            "workspace 4",
        ),
    ],
)
def test_invalid_input_rejected(
    session: Session, now: datetime, spec: AccountSpec, error: type[Exception], text: str
) -> None:
    with pytest.raises(error, match=text):
        accounts.create_account(session, spec, now=now)
    assert accounts.list_accounts(session) == []


def test_batch_error_names_the_row(session: Session, now: datetime) -> None:
    specs = [AccountSpec(workspace_id=1), AccountSpec(workspace_id=1, phone_number="abc")]
    with pytest.raises(InvalidPhoneNumber, match="account 2"):
        accounts.create_accounts(session, specs, now=now)


def test_get_missing_raises(session: Session) -> None:
    with pytest.raises(AccountNotFound, match="nope"):
        accounts.get_account(session, "nope")
    assert accounts.find_account(session, "nope") is None


def test_list_filters_and_assignment(session: Session, now: datetime) -> None:
    for n, ws in enumerate([1, 1, 2]):
        accounts.create_account(
            session,
            AccountSpec(workspace_id=ws, session_id=f"s{n}"),
            now=now + timedelta(seconds=n),
        )
    accounts.assign_instance(session, "s0", "i0")
    accounts.assign_instances(session, {"s1": "i1", "s2": "i0"})
    accounts.record_transition(session, "s2", S.STARTING, at=now)
    session.commit()
    assert [i.session_id for i in accounts.list_accounts(session, instance_id="i0")] == ["s0", "s2"]
    assert [i.session_id for i in accounts.list_accounts(session, workspace_id=1)] == ["s0", "s1"]
    only = accounts.list_accounts(session, instance_id="i0", states=[S.STARTING])
    assert [i.session_id for i in only] == ["s2"]
    accounts.assign_instance(session, "s1", None)
    assert [i.session_id for i in accounts.list_accounts(session, unassigned=True)] == ["s1"]
    counts = accounts.count_by_state(session, instance_id="i0")
    assert counts[S.STOPPED] == 1 and counts[S.STARTING] == 1 and counts[S.FAILED] == 0
    with pytest.raises(AccountNotFound):
        accounts.assign_instances(session, {"ghost": "i0"})


def _walk(session: Session, sid: str, now: datetime) -> None:
    steps = [S.STARTING, S.QR, S.PAIRING, S.CONNECTED]
    for n, target in enumerate(steps):
        accounts.record_transition(session, sid, target, at=now + timedelta(seconds=n))


def test_record_transition_updates_account_and_timeline(session: Session, now: datetime) -> None:
    accounts.create_account(session, AccountSpec(workspace_id=9, session_id="w"), now=now)
    _walk(session, "w", now)
    connected_at = now + timedelta(seconds=3)
    accounts.record_transition(
        session,
        "w",
        S.DISCONNECTED,
        at=now + timedelta(seconds=10),
        reason=Reason.CONFLICT,
        detail="taken over elsewhere",
        count_restart=True,
    )
    session.commit()
    info = accounts.get_account(session, "w")
    assert info.state is S.DISCONNECTED and info.reason is Reason.CONFLICT
    assert info.central_status == "disconnected"
    assert info.connected_at == connected_at and info.restarts == 1
    assert info.updated_at == now + timedelta(seconds=10)
    events = timeline.list_events(session, "w")
    assert [e.state for e in events] == [
        S.STOPPED,
        S.STARTING,
        S.QR,
        S.PAIRING,
        S.CONNECTED,
        S.DISCONNECTED,
    ]
    assert events[-1].previous is S.CONNECTED and events[-1].detail == "taken over elsewhere"


def test_ready_stores_phone_and_platform(session: Session, now: datetime) -> None:
    accounts.create_account(session, AccountSpec(workspace_id=9, session_id="p"), now=now)
    accounts.record_transition(session, "p", S.STARTING, at=now)
    accounts.record_transition(
        session,
        "p",
        S.CONNECTED,
        at=now,
        phone_number="+44 7700 900123",
        platform="android",
        extraction_method="modules",
    )
    info = accounts.get_account(session, "p")
    assert (info.phone_number, info.platform, info.extraction_method) == (
        "447700900123",
        "android",
        "modules",
    )


def test_illegal_transition_changes_nothing(session: Session, now: datetime) -> None:
    accounts.create_account(session, AccountSpec(workspace_id=9, session_id="x"), now=now)
    session.commit()
    with pytest.raises(IllegalTransition, match="x: stopped -> connected"):
        accounts.record_transition(
            session,
            "x",
            S.CONNECTED,
            at=now,
            outbox=[OutboxDraft(name="session_ready", payload={})],
        )
    session.rollback()
    assert accounts.get_account(session, "x").state is S.STOPPED
    assert len(timeline.list_events(session, "x")) == 1
    assert outbox.list_items(session) == []


def test_transition_and_outbox_commit_or_roll_back_together(
    sessions: sessionmaker[Session], now: datetime
) -> None:
    with sessions.begin() as s:
        accounts.create_account(s, AccountSpec(workspace_id=3, session_id="t"), now=now)
    draft = OutboxDraft(name="session_authenticated", payload={"session_id": "t"})
    with pytest.raises(RuntimeError, match="crash"), sessions.begin() as s:
        accounts.record_transition(s, "t", S.STARTING, at=now, outbox=[draft])
        raise RuntimeError("crash before commit")
    with sessions() as s:
        assert accounts.get_account(s, "t").state is S.STOPPED
        assert outbox.list_items(s) == [] and len(timeline.list_events(s, "t")) == 1
    with sessions.begin() as s:
        accounts.record_transition(s, "t", S.STARTING, at=now, outbox=[draft])
    with sessions() as s:
        assert accounts.get_account(s, "t").state is S.STARTING
        [item] = outbox.list_items(s)
        assert item.event_id == draft.event_id and item.state is OutboxState.PENDING


def test_record_qr_stamps_and_enqueues(session: Session, now: datetime) -> None:
    accounts.create_account(session, AccountSpec(workspace_id=3, session_id="q"), now=now)
    accounts.record_transition(session, "q", S.STARTING, at=now)
    accounts.record_transition(session, "q", S.QR, at=now)
    for n in (1, 2):
        accounts.record_qr(
            session,
            "q",
            at=now + timedelta(seconds=n),
            qr_count=n,
            extraction_method="dom",
            outbox=[OutboxDraft(name="qr_code_generated", payload={"qr_count": n})],
        )
    session.commit()
    info = accounts.get_account(session, "q")
    assert info.qr_count == 2 and info.qr_issued_at == now + timedelta(seconds=2)
    assert info.extraction_method == "dom"
    states = [item.state for item in outbox.list_items(session, session_id="q")]
    assert states == [OutboxState.SUPERSEDED, OutboxState.PENDING]


def test_heartbeats(session: Session, now: datetime) -> None:
    for sid in ("h1", "h2"):
        accounts.create_account(session, AccountSpec(workspace_id=3, session_id=sid), now=now)
    assert accounts.record_heartbeat(session, "h1", at=now, latency_ms=12.5, memory_bytes=1000)
    assert not accounts.record_heartbeat(session, "gone", at=now)
    beat_at = now + timedelta(seconds=5)
    beats = [
        SessionHeartbeat(session_id=sid, latency_ms=3.0, memory_bytes=2048, at=beat_at)
        for sid in ("h1", "h2", "gone")
    ]
    assert accounts.record_heartbeats(session, beats) == 2
    assert accounts.record_heartbeats(session, []) == 0
    session.commit()
    for sid in ("h1", "h2"):
        info = accounts.get_account(session, sid)
        assert info.last_heartbeat_at == beat_at
        assert info.heartbeat_latency_ms == 3.0 and info.memory_bytes == 2048


def test_update_and_delete(session: Session, now: datetime) -> None:
    accounts.create_account(session, AccountSpec(workspace_id=3, session_id="u"), now=now)
    accounts.update_account(session, "u", label="Sales", metadata={"a": 1})
    info = accounts.update_account(session, "u", phone_number="+1 415 555 0100", metadata={"b": 2})
    assert info.label == "Sales" and info.phone_number == "14155550100"
    assert info.metadata == {"a": 1, "b": 2}
    accounts.record_transition(
        session,
        "u",
        S.STARTING,
        at=now,
        outbox=[OutboxDraft(name="session_error", payload={})],
    )
    session.commit()
    assert accounts.delete_account(session, "u")
    session.commit()
    assert accounts.find_account(session, "u") is None
    assert timeline.list_events(session, "u") == []
    assert len(outbox.list_items(session, session_id="u")) == 1  # still delivered
    assert not accounts.delete_account(session, "u")


def test_existing_session_ids_many(session: Session, now: datetime) -> None:
    specs = [AccountSpec(workspace_id=2, session_id=f"m{n}") for n in range(700)]
    accounts.create_accounts(session, specs, now=now)
    session.commit()
    wanted = [f"m{n}" for n in range(0, 1400, 2)]
    assert accounts.existing_session_ids(session, wanted) == {f"m{n}" for n in range(0, 700, 2)}


def test_a_different_phone_never_overwrites_the_stored_one(session: Session, now: datetime) -> None:
    """Onboarding: the sheet's phone stays when another phone links the account."""
    spec = AccountSpec(workspace_id=9, session_id="p", phone_number="+62 812 1111 2222")
    accounts.create_account(session, spec, now=now)
    accounts.create_account(session, AccountSpec(workspace_id=9, session_id="q"), now=now)
    for n, target in enumerate([S.STARTING, S.QR, S.PAIRING]):
        accounts.record_transition(session, "p", target, at=now + timedelta(seconds=n))
        accounts.record_transition(session, "q", target, at=now + timedelta(seconds=n))
    later = now + timedelta(seconds=5)
    accounts.record_transition(session, "p", S.CONNECTED, at=later, phone_number="6289900001111")
    accounts.record_transition(session, "q", S.CONNECTED, at=later, phone_number="+6281300000000")
    session.commit()
    assert accounts.get_account(session, "p").phone_number == "6281211112222"
    assert accounts.get_account(session, "q").phone_number == "6281300000000"  # a first phone


@pytest.mark.parametrize("label", ["Toko\x00Budi", "Toko \ud800", "bell\x07"])
def test_labels_no_database_can_store_are_refused_naming_the_label(
    session: Session, now: datetime, label: str
) -> None:
    with pytest.raises(InvalidIdentifier, match="^label "):
        accounts.create_account(session, AccountSpec(workspace_id=9, label=label), now=now)
    assert accounts.list_accounts(session) == []


@pytest.mark.parametrize("reason", [Reason.AWAITING_MEMBER, Reason.NO_MEMBER])
def test_reasons_only_a_fleet_console_derives_are_never_stored(
    session: Session, now: datetime, reason: Reason
) -> None:
    (info,) = accounts.create_accounts(session, [AccountSpec(workspace_id=1)], now=now)
    accounts.record_transition(session, info.session_id, S.STARTING, at=now)
    with pytest.raises(IntegrityError, match="ck_accounts_reason"):
        accounts.record_transition(session, info.session_id, S.DISCONNECTED, at=now, reason=reason)
