"""The console's live picture of every session, and the event fan-out it feeds."""

from __future__ import annotations

from datetime import timedelta

from app.domain.events import SessionHeartbeat, SessionStateChanged
from app.domain.models import SessionInfo
from app.domain.states import Reason, SessionState
from app.engine.control.fanout import Fanout
from app.engine.control.live_view import LiveView
from tests.engine.event_support import NOW, qr_event, state_event

# ------------------------------------------------------------------ fan-out


async def test_a_slow_subscriber_loses_its_oldest_events_only() -> None:
    fanout = Fanout(queue_size=3)
    slow, fast = fanout.subscribe(), fanout.subscribe()
    got_fast = []
    for n in range(5):
        fanout.publish(qr_event("a", n + 1))
        got_fast.append(await fast.__anext__())
    fanout.close()
    got_slow = [e async for e in slow]
    assert [e.qr_count for e in got_slow] == [3, 4, 5]  # type: ignore[attr-defined]
    assert slow.dropped == 2 and len(got_fast) == 5
    assert [e async for e in fanout.subscribe()] == []  # closed: ends at once


# ---------------------------------------------------------------- live view


def test_live_view_keeps_the_qr_while_waiting_and_drops_it_after() -> None:
    view = LiveView()
    view.seed([SessionInfo(session_id="a", workspace_id=1, label="front desk")])
    view.apply(state_event("a", SessionState.STARTING))
    view.apply(qr_event("a", 1))
    view.apply(state_event("a", SessionState.QR))
    info = view.get("a")
    assert info is not None and info.qr.startswith("ref1") and info.qr_expires_at is not None
    view.apply(state_event("a", SessionState.CONNECTED))
    info = view.get("a")
    assert info is not None and info.qr == "" and info.connected_at == NOW
    assert info.label == "front desk"


def test_live_view_ignores_state_older_than_the_instance_snapshot() -> None:
    view = LiveView()
    view.seed([SessionInfo(session_id="a", workspace_id=1)])
    reported = SessionInfo(session_id="a", workspace_id=1, state=SessionState.CONNECTED, restarts=2)
    changed = view.apply_snapshot("instance-1", [reported], NOW)
    assert [(b.state if b else None, a.state) for b, a in changed] == [
        (SessionState.STOPPED, SessionState.CONNECTED)
    ]
    view.apply(state_event("a", SessionState.STARTING, at=NOW - timedelta(seconds=1)))
    view.apply(SessionHeartbeat(session_id="a", latency_ms=3.0, at=NOW - timedelta(seconds=1)))
    info = view.get("a")
    assert info is not None and info.state is SessionState.CONNECTED
    assert info.instance_id == "instance-1" and info.restarts == 2
    assert info.heartbeat_latency_ms == 3.0
    view.apply(
        SessionStateChanged(
            session_id="a",
            workspace_id=1,
            state=SessionState.STARTING,
            previous=SessionState.DISCONNECTED,
            reason=Reason.BROWSER_CRASH,
            at=NOW + timedelta(seconds=1),
        )
    )
    info = view.get("a")
    assert info is not None and info.state is SessionState.STARTING and info.restarts == 3
    assert view.loads() == {"instance-1": 1}
