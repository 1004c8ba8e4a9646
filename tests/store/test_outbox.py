"""Outbox repository: per-session order, QR supersession, retries, dead letters, metrics."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from app.domain.outbox import OutboxItem, OutboxState
from app.store import outbox

QR = "qr_code_generated"


def _put(session: Session, sid: str, name: str, now: datetime, **payload: object) -> OutboxItem:
    return outbox.enqueue(
        session, event_id=uuid.uuid4(), session_id=sid, name=name, payload=payload, now=now
    )


def test_enqueue_round_trips(session: Session, now: datetime) -> None:
    event_id = uuid.uuid4()
    item = outbox.enqueue(
        session,
        event_id=str(event_id),
        session_id="s",
        name="session_ready",
        payload={"phone_number": "6281", "nested": {"a": [1, 2]}},
        now=now,
    )
    session.commit()
    stored = outbox.get(session, event_id)
    assert stored == item
    assert stored is not None and stored.payload == {
        "phone_number": "6281",
        "nested": {"a": [1, 2]},
    }
    assert stored.event_id == event_id and stored.state is OutboxState.PENDING
    assert stored.attempts == 0 and stored.next_attempt_at == now and stored.created_at == now
    assert outbox.get(session, uuid.uuid4()) is None


def test_next_due_gives_only_each_sessions_oldest(session: Session, now: datetime) -> None:
    a1 = _put(session, "a", "session_authenticated", now)
    _put(session, "a", "session_ready", now)
    b1 = _put(session, "b", "session_disconnected", now)
    session.commit()
    due = outbox.next_due(session, now, 10)
    assert {item.event_id for item in due} == {a1.event_id, b1.event_id}
    assert outbox.next_due(session, now, 10, session_ids=["b"]) == [b1]
    assert outbox.next_due(session, now, 10, session_ids=[]) == []
    assert len(outbox.next_due(session, now, 1)) == 1


def test_order_kept_across_retries(session: Session, now: datetime) -> None:
    first = _put(session, "a", "session_authenticated", now)
    second = _put(session, "a", "session_ready", now)
    _put(session, "b", "session_authenticated", now)
    later = now + timedelta(seconds=30)
    assert outbox.mark_retry(
        session, first.event_id, now=now, next_attempt_at=later, error="HTTP 503", status=503
    )
    session.commit()
    # "a" waits for its head; its second event is not handed out early. "b" is not blocked.
    assert [i.session_id for i in outbox.next_due(session, now, 10)] == ["b"]
    assert outbox.next_wakeup(session, session_ids=["a"]) == later
    [head] = outbox.next_due(session, later, 10, session_ids=["a"])
    assert head.event_id == first.event_id and head.attempts == 1
    assert head.last_error == "HTTP 503" and head.last_status == 503
    assert outbox.mark_sent(session, first.event_id, now=later, status=200)
    assert outbox.next_due(session, later, 10, session_ids=["a"])[0].event_id == second.event_id
    sent = outbox.get(session, first.event_id)
    assert sent is not None and sent.state is OutboxState.SENT and sent.sent_at == later
    assert sent.attempts == 2
    assert not outbox.mark_sent(session, first.event_id, now=later)  # already sent


def test_new_qr_or_state_supersedes_pending_qr(session: Session, now: datetime) -> None:
    q1 = _put(session, "a", QR, now, qr_count=1)
    q2 = _put(session, "a", QR, now, qr_count=2)
    other = _put(session, "b", QR, now, qr_count=1)
    assert outbox.get(session, q1.event_id).state is OutboxState.SUPERSEDED  # type: ignore[union-attr]
    ready = _put(session, "a", "session_ready", now)
    session.commit()
    states = {i.event_id: i.state for i in outbox.list_items(session)}
    assert states[q2.event_id] is OutboxState.SUPERSEDED
    assert states[ready.event_id] is OutboxState.PENDING
    assert states[other.event_id] is OutboxState.PENDING  # other sessions untouched
    assert [i.event_id for i in outbox.next_due(session, now, 10, session_ids=["a"])] == [
        ready.event_id
    ]


def test_state_events_are_never_superseded(session: Session, now: datetime) -> None:
    auth = _put(session, "a", "session_authenticated", now)
    _put(session, "a", QR, now)
    _put(session, "a", "session_ready", now)
    assert outbox.get(session, auth.event_id).state is OutboxState.PENDING  # type: ignore[union-attr]


def test_superseded_in_flight(session: Session, now: datetime) -> None:
    q = _put(session, "a", QR, now)
    [head] = outbox.next_due(session, now, 10)
    _put(session, "a", QR, now)  # a newer QR while the first one is being sent
    # A failed send does not bring the stale QR back ...
    assert not outbox.mark_retry(
        session, head.event_id, now=now, next_attempt_at=now, error="timeout"
    )
    assert outbox.get(session, q.event_id).state is OutboxState.SUPERSEDED  # type: ignore[union-attr]
    # ... and a send that did reach the API is recorded as sent.
    assert outbox.mark_sent(session, head.event_id, now=now)


def test_dead_and_retry_dead(session: Session, now: datetime) -> None:
    first = _put(session, "a", "session_authenticated", now)
    assert outbox.mark_dead(
        session, first.event_id, now=now, status=401, body_start='{"error":"bad signature"}'
    )
    second = _put(session, "a", "session_ready", now)
    assert outbox.mark_dead(session, second.event_id, now=now, status=401)
    session.commit()
    dead = outbox.list_dead(session)
    assert [d.event_id for d in dead] == [first.event_id, second.event_id]
    assert dead[0].last_status == 401
    assert dead[0].last_error == 'HTTP 401: {"error":"bad signature"}'
    retry_at = now + timedelta(minutes=5)
    # Both dead: retried together they go out again, in their original order.
    assert outbox.retry_dead(session, now=retry_at) == 2
    session.commit()
    [head] = outbox.next_due(session, retry_at, 10)
    assert head.event_id == first.event_id and head.attempts == 0
    assert outbox.list_dead(session) == []


def test_a_dead_row_does_not_hold_back_its_session(session: Session, now: datetime) -> None:
    first = _put(session, "a", "session_authenticated", now)
    outbox.mark_dead(session, first.event_id, now=now, status=422)
    second = _put(session, "a", "session_ready", now)
    assert outbox.next_due(session, now, 10)[0].event_id == second.event_id


def test_retry_dead_supersedes_a_row_a_newer_event_was_delivered_after(
    session: Session, now: datetime
) -> None:
    """Re-sending an old state after a newer one would regress the platform's account."""
    old = _put(session, "a", "session_authenticated", now)
    outbox.mark_dead(session, old.event_id, now=now, status=422, error="HTTP 422: bad field")
    newer = _put(session, "a", "session_disconnected", now)
    assert outbox.mark_sent(session, newer.event_id, now=now, status=200)
    assert outbox.retry_dead(session, now=now) == 0
    stored = outbox.get(session, old.event_id)
    assert stored is not None and stored.state is OutboxState.SUPERSEDED
    assert "a newer event for this session was already delivered" in stored.last_error
    assert outbox.next_due(session, now, 10) == []


def test_retry_dead_supersedes_a_row_with_a_newer_one_pending(
    session: Session, now: datetime
) -> None:
    old = _put(session, "a", "session_authenticated", now)
    outbox.mark_dead(session, old.event_id, now=now, status=422)
    newer = _put(session, "a", "session_ready", now)
    other = _put(session, "b", "session_ready", now)
    outbox.mark_dead(session, other.event_id, now=now, status=422)
    assert outbox.retry_dead(session, now=now) == 1  # b's row has nothing after it
    assert outbox.get(session, old.event_id).state is OutboxState.SUPERSEDED  # type: ignore[union-attr]
    assert outbox.get(session, other.event_id).state is OutboxState.PENDING  # type: ignore[union-attr]
    heads = {h.session_id: h.event_id for h in outbox.next_due(session, now, 10)}
    assert heads == {"a": newer.event_id, "b": other.event_id}


def test_retry_dead_one_by_one_keeps_the_platform_current(session: Session, now: datetime) -> None:
    old = _put(session, "a", "session_authenticated", now)
    outbox.mark_dead(session, old.event_id, now=now, status=422)
    new = _put(session, "a", "session_ready", now)
    outbox.mark_dead(session, new.event_id, now=now, status=422)
    # Retrying only the newer one first re-queues it (a dead row does not block) ...
    assert outbox.retry_dead(session, now=now, event_ids=[new.event_id]) == 1
    assert outbox.get(session, old.event_id).state is OutboxState.DEAD  # type: ignore[union-attr]
    # ... after which the older one can no longer go out.
    assert outbox.retry_dead(session, now=now, event_ids=[old.event_id]) == 0
    assert outbox.get(session, old.event_id).state is OutboxState.SUPERSEDED  # type: ignore[union-attr]


def test_retry_dead_selected_and_stale_qr(session: Session, now: datetime) -> None:
    qr = _put(session, "a", QR, now)
    outbox.mark_dead(session, qr.event_id, now=now, status=422)
    ready = _put(session, "a", "session_ready", now)
    outbox.mark_dead(session, ready.event_id, now=now, status=422)
    lone = _put(session, "b", "session_error", now)
    outbox.mark_dead(session, lone.event_id, now=now, status=400, error="rejected")
    assert outbox.retry_dead(session, now=now, event_ids=[]) == 0
    assert outbox.retry_dead(session, now=now, event_ids=[lone.event_id]) == 1
    assert outbox.get(session, lone.event_id).state is OutboxState.PENDING  # type: ignore[union-attr]
    assert outbox.retry_dead(session, now=now) == 1
    stale = outbox.get(session, qr.event_id)
    assert stale is not None and stale.state is OutboxState.SUPERSEDED
    assert "replaced this QR code" in stale.last_error
    assert outbox.get(session, ready.event_id).state is OutboxState.PENDING  # type: ignore[union-attr]


def test_metrics(session: Session, now: datetime) -> None:
    assert outbox.metrics(session, now).pending == 0
    old = _put(session, "a", "session_authenticated", now)
    _put(session, "b", "session_authenticated", now + timedelta(seconds=5))
    sent = _put(session, "c", "session_ready", now)
    dead = _put(session, "d", "session_ready", now)
    _put(session, "e", QR, now)
    _put(session, "e", QR, now)
    outbox.mark_sent(session, sent.event_id, now=now)
    outbox.mark_retry(
        session,
        old.event_id,
        now=now + timedelta(seconds=1),
        next_attempt_at=now,
        error="connection refused",
    )
    outbox.mark_dead(session, dead.event_id, now=now + timedelta(seconds=2), status=404)
    session.commit()
    m = outbox.metrics(session, now + timedelta(seconds=60))
    assert (m.pending, m.delivered, m.dead, m.superseded) == (3, 1, 1, 1)
    assert m.oldest_pending_age == 60.0
    assert m.last_error == "HTTP 404" and m.last_error_at == now + timedelta(seconds=2)


def test_purge_keeps_pending_and_dead(session: Session, now: datetime) -> None:
    sent = _put(session, "a", "session_ready", now)
    outbox.mark_sent(session, sent.event_id, now=now)
    _put(session, "b", QR, now)
    _put(session, "b", QR, now)
    dead = _put(session, "c", "session_ready", now)
    outbox.mark_dead(session, dead.event_id, now=now, status=400)
    assert outbox.purge_delivered(session, older_than=now + timedelta(days=1)) == 2
    assert {i.state for i in outbox.list_items(session)} == {OutboxState.PENDING, OutboxState.DEAD}


def test_enqueued_heads_are_the_rows_nothing_older_of_their_session_waits_for(
    sessions: sessionmaker[Session], now: datetime
) -> None:
    with sessions.begin() as s:
        waiting = _put(s, "a", "session_authenticated", now)
        outbox.take_enqueued_heads(s)
        later = now + timedelta(seconds=60)
        outbox.mark_retry(s, waiting.event_id, now=now, next_attempt_at=later, error="x")
    with sessions.begin() as s:
        behind = _put(s, "a", "session_ready", now)  # "a" still has an older row pending
        _put(s, "b", QR, now)
        newer_qr = _put(s, "b", QR, now)  # supersedes the first, which is no head any more
        state = _put(s, "c", "session_disconnected", now)
        _put(s, "c", "session_error", now)  # behind "c"'s row above
    heads = outbox.take_enqueued_heads(s)
    assert [h.event_id for h in heads] == [newer_qr.event_id, state.event_id]
    assert outbox.take_enqueued_heads(s) == []  # handed out once
    with sessions() as s:
        assert heads == [outbox.get(s, newer_qr.event_id), outbox.get(s, state.event_id)]
        due = outbox.next_due(s, now, 10)
    assert {i.event_id for i in due} == {newer_qr.event_id, state.event_id}
    assert behind.event_id not in {i.event_id for i in due}
