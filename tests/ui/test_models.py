"""Models: qtmodeltester, batched updates, the grid under 3,000 rows and a burst."""

from __future__ import annotations

from app.domain.events import InstanceLoad, SessionHeartbeat
from app.domain.models import InstanceInfo, SessionInfo
from app.domain.states import SessionState
from app.ui.instances_model import InstancesModel
from app.ui.sessions_model import Col, SessionsModel, SessionsProxy
from app.ui.timeline import TimelineModel
from tests.ui.fakes import qr_event, state_event

S = SessionState


def _fleet(n: int) -> list[SessionInfo]:
    return [
        SessionInfo(
            session_id=f"s{i}",
            workspace_id=i + 1,
            label=f"Shop {i}",
            state=S.CONNECTED if i % 10 else S.FAILED,
        )
        for i in range(n)
    ]


def test_sessions_model_passes_modeltester(qtmodeltester):
    model = SessionsModel()
    model.load(_fleet(20))
    model.apply([state_event("s3", S.DISCONNECTED, 4), qr_event("new", 99)])
    qtmodeltester.check(model)
    proxy = SessionsProxy()
    proxy.setSourceModel(model)
    proxy.set_text("shop 1")
    qtmodeltester.check(proxy)


def test_instances_and_timeline_models_pass_modeltester(qtmodeltester):
    inst = InstancesModel()
    inst.load([InstanceInfo(instance_id="i-1", index=1, capacity=50)])
    inst.apply(
        [
            InstanceLoad(instance_id="i-1", cpu_percent=40, capacity=50),
            InstanceLoad(instance_id="i-2", cpu_percent=10),
        ]
    )
    qtmodeltester.check(inst)
    assert inst.rowCount() == 2 and len(inst.history["i-1"]) == 1
    qtmodeltester.check(TimelineModel())


def test_event_for_unknown_session_inserts_a_row_without_reset(qtbot):
    model = SessionsModel()
    model.load(_fleet(3))
    resets = []
    model.modelReset.connect(lambda: resets.append(1))
    with qtbot.waitSignal(model.rowsInserted):
        model.apply([qr_event("fresh", 42)])
    row = model.row_for("fresh")
    assert row is not None and row.state is S.QR and row.workspace_id == 42
    assert not resets


def test_grid_3000_rows_burst_of_updates_is_correct(qtbot):
    model = SessionsModel()
    model.load(_fleet(3000))
    proxy = SessionsProxy()
    proxy.setSourceModel(model)
    proxy.sort(Col.STATE)
    changed: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda a, b, roles: changed.append((a.row(), b.row())))
    resets = []
    model.modelReset.connect(lambda: resets.append(1))
    burst = [
        SessionHeartbeat(session_id=f"s{i}", latency_ms=5, memory_bytes=(i + 1) * 2**20)
        for i in range(0, 3000, 3)
    ]
    burst += [state_event(f"s{i}", S.DISCONNECTED, i + 1) for i in range(1, 3000, 30)]
    model.apply(burst)
    assert not resets
    assert model.row_for("s2997").memory == 2998 * 2**20
    assert model.counts()[S.DISCONNECTED] == 100
    # Trouble sorts first: the 300 failed then the 100 disconnected rows.
    top = [proxy.index(r, Col.STATE).data() for r in range(400)]
    assert set(top) == {"failed", "disconnected"}
    # Changed rows are reported in merged runs, each inside the table.
    assert changed and all(0 <= a <= b < 3000 for a, b in changed)
    proxy.set_states(frozenset({S.DISCONNECTED}))
    assert proxy.rowCount() == 100
    proxy.set_states(None)
    proxy.set_text("shop 2999")
    assert proxy.rowCount() == 1


def test_counts_signal_after_state_change(qtbot):
    model = SessionsModel()
    model.load(_fleet(10))
    with qtbot.waitSignal(model.sig_counts_changed) as blocker:
        model.apply([state_event("s1", S.LOGGED_OUT, 2)])
    assert blocker.args[0][S.LOGGED_OUT] == 1


def test_age_tick_touches_no_row_and_repaints_only_the_view(qtbot):
    from app.ui.health_grid import HealthGrid

    model = SessionsModel()
    model.load(_fleet(3000))
    grid = HealthGrid(model)
    qtbot.addWidget(grid)
    grid.show()
    changed: list[object] = []
    model.dataChanged.connect(lambda *a: changed.append(a))
    grid.proxy.layoutChanged.connect(lambda *a: changed.append(a))
    with qtbot.waitSignal(model.sig_ages_due):
        model.tick()
    assert not changed  # no dataChanged over 3,000 rows, no re-sort
    grid.table.sortByColumn(Col.HEARTBEAT, grid.proxy.sortOrder())
    changed.clear()
    for _ in range(5):
        model.tick()
    assert not changed  # sorted by an age column: its key (the clock's start) does not move


def test_upsert_fills_labels_without_reset(qtbot):
    model = SessionsModel()
    model.apply([qr_event("x", 5)])
    assert model.row_for("x").label == ""
    with qtbot.waitSignal(model.dataChanged):
        model.upsert([SessionInfo(session_id="x", workspace_id=5, label="Toko")])
    assert model.data(model.index(0, Col.LABEL)) == "Toko"


def test_outbox_model_merges_refreshes_without_reset(qtmodeltester, qtbot):
    from dataclasses import replace

    from app.demo.data import demo_outbox
    from app.ui.outbox_model import OutboxModel

    items = demo_outbox()
    model = OutboxModel()
    model.set_items(items)
    qtmodeltester.check(model)
    assert model.counts() == (2, 2)
    assert model.data(model.index(2, 4)) == "422"
    assert "workspace id field must exist" in model.data(model.index(2, 6))
    resets: list[int] = []
    model.modelReset.connect(lambda: resets.append(1))
    model.set_items([replace(items[0], attempts=3), *items[2:]])
    assert model.rowCount() == 3 and model.item(0).attempts == 3 and not resets


def test_table_models_keep_their_roles_and_headers(qtmodeltester):
    from datetime import timedelta

    from PySide6.QtCore import Qt

    from app.demo.data import demo_outbox
    from app.domain.events import utcnow
    from app.domain.import_rows import parse_text
    from app.domain.models import TimelineEntry
    from app.ui.onboarding_view import ImportRowsModel
    from app.ui.outbox_model import OutboxModel

    align, tip = Qt.ItemDataRole.TextAlignmentRole, Qt.ItemDataRole.ToolTipRole
    at = utcnow()
    timeline = TimelineModel()
    timeline.set_entries(
        "s1",
        [
            TimelineEntry(
                session_id="s1",
                state=S.QR,
                previous=S.STARTING,
                reason=None,
                at=at + timedelta(seconds=2.5),
            ),
            TimelineEntry(session_id="s1", state=S.STARTING, previous=None, reason=None, at=at),
        ],
    )
    qtmodeltester.check(timeline)
    assert timeline.headerData(4, Qt.Orientation.Horizontal, Qt.ItemDataRole.DisplayRole) == "After"
    assert (
        timeline.data(timeline.index(0, 4)) == ""
        and timeline.data(timeline.index(1, 4)) == "2.50 s"
    )
    assert timeline.data(timeline.index(1, 1), align) is None

    rows = ImportRowsModel()
    rows.set_rows(
        parse_text("workspace_id,label,phone,proxy\n12,Toko Maju,,http://u:pw@p:1\nx,Bad,,\n")
    )
    qtmodeltester.check(rows)
    assert rows.data(rows.index(0, 5)) == "✓ ready" and rows.data(rows.index(0, 5), tip) is None
    assert rows.data(rows.index(0, 4)) == "http://u@p:1", "the proxy, never its password"
    assert rows.data(rows.index(1, 5), tip)

    outbox = OutboxModel()
    outbox.set_items(demo_outbox())
    right = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    left = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    assert outbox.data(outbox.index(0, 3), align) == right
    assert outbox.data(outbox.index(0, 0), align) == left

    inst = InstancesModel()
    inst.load([InstanceInfo(instance_id="i-1", index=1)])
    assert inst.data(inst.index(0, 0), Qt.ItemDataRole.UserRole) == "i-1"
    assert inst.data(inst.index(0, 2), align) is None and inst.data(inst.index(0, 1)) == "no"
