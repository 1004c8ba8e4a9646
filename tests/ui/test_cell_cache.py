"""The grid paints from `CellCache`: the same cells, order and ages as the model;
the ages on screen are read again once per tick of the model's clock."""

from __future__ import annotations

from datetime import timedelta

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QColor, QHelpEvent, QImage
from PySide6.QtWidgets import QApplication, QToolTip

from app.domain.events import SessionHeartbeat, utcnow
from app.domain.models import SessionInfo
from app.domain.states import SessionState
from app.ui import theme
from app.ui.cell_cache import CellCache
from app.ui.health_grid import CACHED_ROLES, FIXED_ROLES, ROW_ROLES, HealthGrid
from app.ui.session_row import AGE_COLS, ID_ROLE, SORT_ROLE, STATE_ROLE, Col
from app.ui.sessions_model import SessionsModel
from tests.ui.fakes import qr_event, state_event

S = SessionState
DISPLAY = Qt.ItemDataRole.DisplayRole


def _fleet(n: int) -> list[SessionInfo]:
    """Every 4th session disconnected; session i connected i minutes ago."""
    now = utcnow()
    states = [S.CONNECTED if i % 4 else S.DISCONNECTED for i in range(n)]
    since = [now - timedelta(seconds=60 * i) for i in range(n)]
    return [
        SessionInfo(
            session_id=f"s{i}",
            workspace_id=i + 1,
            label=f"Shop {i}",
            state=state,
            connected_at=at,
            memory_bytes=(i + 1) * 2**20,
        )
        for i, (state, at) in enumerate(zip(states, since, strict=True))
    ]


def _shown_grid(qtbot, *, rows: int) -> tuple[SessionsModel, HealthGrid]:
    model = SessionsModel()
    model.load(_fleet(rows))
    grid = HealthGrid(model)
    qtbot.addWidget(grid)
    grid.resize(1400, 600)
    grid.show()
    qtbot.waitExposed(grid)
    QApplication.processEvents()  # the view lays its rows out on a zero timer
    return model, grid


def _same_cells(model: SessionsModel, cells: CellCache) -> None:
    assert cells.rowCount() == model.rowCount()
    for row in range(model.rowCount()):
        for col in Col:
            at, copy = model.index(row, col), cells.index(row, col)
            # Ages were read when copied and move with the clock: compared where they are read.
            roles = [r for r in CACHED_ROLES if not (r == DISPLAY and col in AGE_COLS)]
            roles += list(FIXED_ROLES)
            roles += list(ROW_ROLES) if col == 0 else []
            for role in roles:
                assert copy.data(role) == model.data(at, role), (row, col, role)


def test_the_cache_holds_the_models_cells_through_inserts_and_changes(qtbot, qtmodeltester):
    model = SessionsModel()
    model.load(_fleet(12))
    cells = CellCache(
        model,
        roles=CACHED_ROLES,
        fixed_roles=FIXED_ROLES,
        first_column_roles=ROW_ROLES,
        live_columns=AGE_COLS,
    )
    _same_cells(model, cells)
    model.apply(
        [
            state_event("s3", S.DISCONNECTED, 4),
            SessionHeartbeat(session_id="s5", latency_ms=3, memory_bytes=77 * 2**20),
            qr_event("new", 99),  # a row first seen in an event: inserted
            state_event("s0", S.CONNECTED, 1, phone_number="6281234567"),
        ]
    )
    model.upsert([SessionInfo(session_id="new", workspace_id=99, label="Toko Baru")])
    _same_cells(model, cells)
    assert cells.index(12, Col.LABEL).data() == "Toko Baru"
    assert cells.index(3, 0).data(STATE_ROLE) == "disconnected"
    assert cells.index(12, 0).data(ID_ROLE) == "new"
    # An age is copied with its row, as it read then (a heartbeat just came: seconds;
    # not compared with the model's now, which may be a second later).
    assert cells.index(5, Col.HEARTBEAT).data().endswith(" s")
    qtmodeltester.check(cells)


def test_the_grid_sorts_and_filters_the_cache_as_it_did_the_model(qtbot):
    model = SessionsModel()
    model.load(_fleet(40))
    grid = HealthGrid(model)
    qtbot.addWidget(grid)
    proxy = grid.proxy
    assert proxy.sourceModel() is grid.cells
    # Sorted by state, as it opens: the 10 disconnected rows first.
    assert {proxy.index(r, 0).data() for r in range(10)} == {"disconnected"}
    model.apply([state_event("s1", S.LOGGED_OUT, 2)])
    assert proxy.index(0, 0).data(ID_ROLE) == "s1"  # trouble first, at once
    grid.set_filter("connected")
    assert proxy.rowCount() == 29
    grid.clear_filter()
    grid.search.setText("shop 3")  # the filter reads the model's rows through the cache
    assert {proxy.index(r, 0).data(ID_ROLE) for r in range(proxy.rowCount())} == {
        "s3",
        *{f"s3{i}" for i in range(10)},
    }


def test_sorted_by_connected_for_the_order_holds_as_time_passes(qtbot):
    model = SessionsModel()
    model.load(_fleet(20))
    grid = HealthGrid(model)
    qtbot.addWidget(grid)
    grid.table.sortByColumn(Col.CONNECTED_FOR, Qt.SortOrder.DescendingOrder)
    ids = [grid.proxy.index(r, 0).data(ID_ROLE) for r in range(15)]
    # Longest connected first: s19 (19 minutes), then s18... (every 4th is disconnected).
    assert ids == [f"s{i}" for i in range(19, 0, -1) if i % 4][:15]
    # A session that connects now is the youngest: last, with no timer.
    model.apply([state_event("s4", S.CONNECTED, 5)])
    assert grid.proxy.index(15, 0).data(ID_ROLE) == "s4"
    model.tick()
    assert [grid.proxy.index(r, 0).data(ID_ROLE) for r in range(15)] == ids


# The offscreen platform cannot raise the tooltip's window; the text is what counts.
@pytest.mark.qt_log_ignore("does not support raise", "propagateSizeHints")
def test_age_cells_and_tooltips_are_read_from_the_model(qtbot):
    model, grid = _shown_grid(qtbot, rows=8)
    table, proxy = grid.table, grid.proxy
    at = proxy.index(2, Col.CONNECTED_FOR)  # after the two disconnected rows
    source_row = proxy.mapToSource(at).row()
    expected = model.data(model.index(source_row, Col.CONNECTED_FOR))
    assert expected  # '7 min' or so
    assert at.data() == expected
    # The tooltip of a cell is the model's (the state cell explains the state).
    state_cell = proxy.index(0, Col.STATE)
    rect = table.visualRect(state_cell)
    viewport = table.viewport()
    event = QHelpEvent(QEvent.Type.ToolTip, rect.center(), viewport.mapToGlobal(rect.center()))
    assert grid.eventFilter(viewport, event)
    tip = model.data(
        model.index(proxy.mapToSource(state_cell).row(), Col.STATE), Qt.ItemDataRole.ToolTipRole
    )
    assert tip and QToolTip.text() == tip
    # Double-click on any column opens that row's session.
    with qtbot.waitSignal(grid.sig_timeline_requested) as blocker:
        table.doubleClicked.emit(proxy.index(0, Col.MEMORY))
    assert blocker.args == [proxy.index(0, 0).data(ID_ROLE)]


def test_a_model_reset_builds_a_new_cache_and_keeps_the_sort(qtbot):
    model = SessionsModel()
    grid = HealthGrid(model)
    qtbot.addWidget(grid)
    first = grid.cells
    model.load(_fleet(16))  # the console's first load comes after the grid exists
    assert grid.cells is not first and grid.proxy.sourceModel() is grid.cells
    assert grid.proxy.rowCount() == 16
    assert {grid.proxy.index(r, 0).data() for r in range(4)} == {"disconnected"}
    assert grid.proxy.sortColumn() == Col.STATE
    assert grid.cells.index(0, Col.MEMORY).data(SORT_ROLE) == model.data(
        model.index(0, Col.MEMORY), SORT_ROLE
    )
    # The first cache follows the model no more (it had no rows to change).
    model.apply([SessionHeartbeat(session_id="s5", latency_ms=3, memory_bytes=9 * 2**30)])
    assert first.rowCount() == 0
    assert grid.cells.index(5, Col.MEMORY).data() == model.data(model.index(5, Col.MEMORY))


def test_state_pills_are_drawn_once_per_words_and_state(qtbot):
    model, grid = _shown_grid(qtbot, rows=12)
    pills = grid.table.itemDelegateForColumn(Col.STATE)
    grid.table.viewport().repaint()
    grid.table.viewport().repaint()
    # Two kinds of rows on screen (connected, disconnected): two pictures, however often painted.
    assert len(pills._pills) == 2
    image = grid.table.viewport().grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    rect = grid.table.visualRect(grid.proxy.index(0, Col.STATE))
    colour = QColor(image.pixel(rect.x() + 12, rect.center().y()))
    assert colour == theme.state_color(S.DISCONNECTED)  # the first row's pill, its colour


def _age_text(model: SessionsModel, grid: HealthGrid, proxy_row: int) -> tuple[str, str]:
    """(what the grid would paint, what the model says now) for a row's connected-for."""
    at = grid.proxy.index(proxy_row, Col.CONNECTED_FOR)
    source_row = grid.proxy.mapToSource(at).row()
    return at.data(), model.data(model.index(source_row, Col.CONNECTED_FOR))


def _clock_moves(model: SessionsModel, minutes: int) -> None:
    """Every connected row's clock started `minutes` earlier, as if time passed
    (the model says nothing: ages are read, not signalled)."""
    for source_row in range(model.rowCount()):
        row = model.row_at(source_row)
        if row.connected_at is not None:
            row.connected_at -= timedelta(minutes=minutes)


def test_ages_on_screen_move_at_each_tick_of_the_models_clock(qtbot):
    model, grid = _shown_grid(qtbot, rows=12)  # rows 0-2 disconnected, sorted first
    before, now = _age_text(model, grid, 6)
    assert before == now
    _clock_moves(model, 90)
    grid.table.viewport().repaint()
    assert _age_text(model, grid, 6)[0] == before  # within a tick: read once
    model.tick()
    grid.table.viewport().repaint()
    after, now = _age_text(model, grid, 6)
    assert after == now != before


def test_a_row_scrolled_into_view_shows_its_age_now_and_rows_off_screen_are_not_read(
    qtbot, monkeypatch
):
    model, grid = _shown_grid(qtbot, rows=300)
    _clock_moves(model, 600)  # no tick: only what is painted from now on is read
    reads: list[int] = []
    cell = model.cell

    def counting_cell(row: int, col: int, role: int) -> object:
        if col in AGE_COLS and role == DISPLAY:
            reads.append(row)
        return cell(row, col, role)

    monkeypatch.setattr(model, "cell", counting_cell)
    grid.table.scrollToBottom()
    grid.table.viewport().repaint()
    on_screen = grid.table.rowAt(grid.table.viewport().height() - 1) - grid.table.rowAt(0) + 1
    read = set(reads)
    reads.clear()
    grid.table.viewport().repaint()
    assert reads == []  # painted again within the tick: nothing read
    assert 0 < len(read) <= on_screen < 300
    painted, now = _age_text(model, grid, grid.proxy.rowCount() - 1)
    assert painted == now
