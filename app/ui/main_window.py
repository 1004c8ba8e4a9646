"""The console's main window: header, navigation, the five views and the status bar.

It owns the models, feeds them from `EngineHost` signals, and turns the views'
intent signals (`sig_*_requested`) into engine operations. Widgets hold no
data of their own.
"""

from __future__ import annotations

from collections.abc import Awaitable
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer, Slot
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QMainWindow,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

import app
from app.config import Settings
from app.domain.events import EngineEvent, SyncStatus
from app.domain.models import SessionInfo
from app.domain.states import SessionState
from app.engine.api import Engine
from app.ui.banners import BannerArea
from app.ui.diagnostics_view import DiagnosticsView
from app.ui.engine_host import EngineHost
from app.ui.focus_view import FocusView
from app.ui.gate_dialogs import phone_input, proxy_input
from app.ui.health_grid import HealthGrid
from app.ui.instances_model import InstancesModel
from app.ui.instances_view import InstancesView
from app.ui.notifier import Notifier
from app.ui.onboarding_flow import OnboardingFlow
from app.ui.onboarding_view import OnboardingView
from app.ui.problems import Snapshot, find_problems, is_disk_full
from app.ui.qr_wall import QrWallView
from app.ui.qr_wall_model import QrWallModel
from app.ui.sessions_model import SessionsModel
from app.ui.timeline import TimelineDrawer, TimelineModel
from app.ui.window_actions import DiagnosticsActions, ScanPoster, TestPhoneActions
from app.ui.window_parts import VIEWS, Header, Nav, ShortcutOverlay, StatusTotals, app_icon

RETRY_START_MS = 15_000  # a failed engine start is tried again this often
# While an instance is down, re-read why every 3 s; fleet members' lease health likewise.
INSTANCES_REFRESH_TICKS = 3


def _set_proxy(session_id: str, proxy: str, engine: Engine) -> Awaitable[SessionInfo]:
    return engine.set_proxy(session_id, proxy)


class MainWindow(QMainWindow):
    """The operator console. `sandbox_url` enables "Scan with test phone" (sandbox mode)."""

    def __init__(
        self,
        host: EngineHost,
        *,
        settings: Settings,
        sandbox_url: str = "",
        scan_poster: ScanPoster | None = None,
        config_file: Path | None = None,
    ) -> None:
        super().__init__()
        self.host = host
        self.settings = settings
        self.config_file = config_file
        self.sandbox_url = sandbox_url
        self.setWindowTitle("pairdesk" + ("  [sandbox]" if settings.sandbox_mode else ""))
        self.setWindowIcon(app_icon())
        self.sessions = SessionsModel(self)
        self.wall_model = QrWallModel(self.sessions, self)
        self.instances = InstancesModel(self)

        self.header = Header(sandbox=settings.sandbox_mode)
        self.banners = BannerArea()
        self._engine_error = ""
        self._sync: SyncStatus | None = None
        self._ticks = 0
        self._retry = QTimer(self)  # after a failed start: try again until it works
        self._retry.setInterval(RETRY_START_MS)
        self._retry.timeout.connect(self._on_retry_timeout)
        self.nav = Nav()
        self.wall = QrWallView(self.wall_model, sandbox=settings.sandbox_mode)
        self.focus = FocusView(self.wall_model, sandbox=settings.sandbox_mode)
        self.qr_stack = QStackedWidget()
        self.qr_stack.addWidget(self.wall)
        self.qr_stack.addWidget(self.focus)
        self.grid = HealthGrid(self.sessions)
        self.drawer_model = TimelineModel(self)
        self.drawer = TimelineDrawer(self.drawer_model)
        self.drawer.setVisible(False)
        grid_split = QSplitter()
        grid_split.addWidget(self.grid)
        grid_split.addWidget(self.drawer)
        grid_split.setStretchFactor(0, 3)
        self.instances_view = InstancesView(self.instances)
        self.onboarding = OnboardingView()
        self.diagnostics = DiagnosticsView()
        self.stack = QStackedWidget()
        for view in (
            self.qr_stack,
            grid_split,
            self.instances_view,
            self.onboarding,
            self.diagnostics,
        ):
            self.stack.addWidget(view)
        self.totals = StatusTotals()
        self.statusBar().addPermanentWidget(self.totals, 1)
        self.about_button = QToolButton()
        self.about_button.setAutoRaise(True)
        self.about_button.setText(f"pairdesk {app.__version__}")
        self.about_button.setToolTip("About pairdesk: version and support details (F1)")
        self.about_button.clicked.connect(self.open_about)
        self.statusBar().addPermanentWidget(self.about_button)

        body = QHBoxLayout()
        body.setContentsMargins(0, 0, 0, 0)
        body.addWidget(self.nav)
        body.addWidget(self.stack, 1)
        central = QWidget()
        outer = QVBoxLayout(central)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        outer.addWidget(self.header)
        outer.addWidget(self.banners)
        outer.addLayout(body, 1)
        self.setCentralWidget(central)
        self.overlay = ShortcutOverlay(central)
        self.notifier = Notifier(self, app_icon())
        self.onboarding_flow = OnboardingFlow(
            host, sessions=self.sessions, view=self.onboarding, focus=self.focus, parent=self
        )
        self._fetching_labels = False
        self.test_phone = TestPhoneActions(
            host,
            sessions=self.sessions,
            status=self.statusBar(),
            sandbox_url=lambda: self.sandbox_url,
            scan_poster=scan_poster,
            parent=self,
        )
        self.diagnose = DiagnosticsActions(
            host,
            settings=settings,
            view=self.diagnostics,
            instances=self.instances,
            status=self.statusBar(),
            dialog_parent=self,
            parent=self,
        )
        self._connect()
        self._shortcuts()
        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._on_tick_timeout)
        self._tick.start()
        self.resize(1440, 900)

    # ----------------------------------------------------------- wiring

    def _connect(self) -> None:
        h = self.host
        h.sig_started.connect(self._on_host_started)
        h.sig_sessions_loaded.connect(self._on_host_sessions_loaded)
        h.sig_instances_loaded.connect(self._on_host_instances_loaded)
        # The wall hears the engine first-hand (the fewest hand-offs from a QR to the screen).
        h.sig_session_events.connect(self.wall_model.apply)
        h.sig_session_events.connect(self._on_host_session_events)
        h.sig_instance_loads.connect(self._on_host_instance_loads)
        h.sig_sync_status.connect(self._on_host_sync_status)
        # Diagnose › Events sees everything the window hears.
        h.sig_session_events.connect(self.diagnostics.events.add)
        h.sig_instance_loads.connect(self.diagnostics.events.add)
        h.sig_sync_status.connect(lambda status: self.diagnostics.events.add([status]))
        h.sig_engine_failed.connect(self._on_host_engine_failed)
        h.sig_operation_failed.connect(self._on_host_operation_failed)
        self.nav.currentRowChanged.connect(self.stack.setCurrentIndex)
        self.header.sig_search_changed.connect(self._on_header_search_changed)
        self.header.sig_sync_clicked.connect(lambda: self.show_view(4, tab=1))
        self.sessions.sig_counts_changed.connect(self._on_sessions_counts_changed)
        self.totals.sig_filter_requested.connect(self._on_totals_filter_requested)
        self.wall.sig_focus_requested.connect(self.enter_focus)
        self.wall.sig_regenerate_requested.connect(h.regenerate_qr)
        self.wall.sig_scan_requested.connect(self.test_phone.scan)
        self.wall.sig_pairing_code_requested.connect(self.ask_pairing_code)
        self.wall.sig_code_entry_requested.connect(self.test_phone.enter_code)
        self.wall.sig_window_requested.connect(self._on_window_requested)
        self.focus.sig_regenerate_requested.connect(h.regenerate_qr)
        self.focus.sig_pairing_code_requested.connect(self.ask_pairing_code)
        self.focus.sig_leave_requested.connect(self.leave_focus)
        self.focus.sig_scan_requested.connect(self.test_phone.scan)
        self.grid.sig_action_requested.connect(self.act)
        self.grid.sig_timeline_requested.connect(self._on_grid_timeline_requested)
        self.grid.sig_diagnose_requested.connect(self.diagnose_session)
        self.drawer.sig_diagnose_requested.connect(self.diagnose_session)
        self.instances_view.sig_restart_requested.connect(self._on_restart_instance_requested)
        self.instances_view.sig_add_requested.connect(self._on_add_instance_requested)
        self.instances_view.sig_log_requested.connect(self._on_instance_log_requested)
        self.onboarding_flow.sig_focus_requested.connect(self.enter_focus)
        self.onboarding_flow.sig_message.connect(lambda t: self.statusBar().showMessage(t, 6000))
        self.sessions.sig_unknown_sessions.connect(self._on_sessions_unknown_sessions)
        # Diagnose's own requests are wired by `DiagnosticsActions`.

    def _shortcuts(self) -> None:
        for n in range(len(VIEWS)):
            QShortcut(QKeySequence(f"Ctrl+{n + 1}"), self, lambda n=n: self.show_view(n))
        QShortcut(QKeySequence("Ctrl+F"), self, self._on_search_shortcut)
        QShortcut(QKeySequence("F"), self, self.enter_focus)
        QShortcut(QKeySequence("?"), self, self.overlay.toggle)
        QShortcut(QKeySequence("Shift+?"), self, self.overlay.toggle)
        QShortcut(QKeySequence("Ctrl+,"), self, self.open_settings)
        QShortcut(QKeySequence("F1"), self, self.open_about)
        QShortcut(QKeySequence("Esc"), self, self.overlay.hide)

    # ----------------------------------------------------------- actions

    def show_view(self, index: int, tab: int | None = None) -> None:
        self.nav.setCurrentRow(index)
        self.stack.setCurrentIndex(index)
        if index == 4:
            if tab is not None:
                self.diagnostics.tabs.setCurrentIndex(tab)
            self.diagnose.refresh_outbox()

    def enter_focus(self) -> None:
        self.show_view(0)
        self.qr_stack.setCurrentWidget(self.focus)
        self.focus.setFocus()

    def leave_focus(self) -> None:
        self.qr_stack.setCurrentWidget(self.wall)

    def act(self, verb: str, ids: list[str]) -> None:
        """Ask the engine for `verb` on each session: start, stop, restart, logout,
        regenerate_qr, request_pairing_code, open_window or set_proxy (the bulk bar and
        the menus carry the verb's name; the last asks for the proxy, once for all)."""
        if verb == "set_proxy":
            self.ask_proxy(ids)
            return
        if verb == "request_pairing_code":
            if len(ids) != 1:
                self.statusBar().showMessage("A pairing code is for one account at a time.", 6000)
                return
            self.ask_pairing_code(ids[0])
            return
        slot = {
            "start": self.host.start_session,
            "stop": self.host.stop_session,
            "restart": self.host.restart_session,
            "logout": self.host.logout_session,
            "regenerate_qr": self.host.regenerate_qr,
            "open_window": self._on_window_requested,
        }[verb]
        for sid in ids:
            slot(sid)
        self.statusBar().showMessage(f"{verb}: sent for {len(ids)} session(s)", 4000)

    @Slot(str)
    def ask_pairing_code(self, session_id: str) -> None:
        """Ask which phone the code is for (the account's own number filled in), then ask
        the engine; the code shows on the wall when it arrives."""
        row = self.sessions.row_for(session_id)
        name = (row.label if row else "") or session_id
        phone = phone_input(self, name, row.phone if row else "")
        if phone is None:
            return
        self.host.request_pairing_code(session_id, phone)
        self.statusBar().showMessage(f"Asking for a pairing code for {name}…", 4000)

    def ask_proxy(self, ids: list[str]) -> None:
        """Ask for one proxy URL (empty: none) and give it to every selected account."""
        rows = [r for r in (self.sessions.row_for(sid) for sid in ids) if r is not None]
        shown = rows[0].proxy if len(rows) == 1 else ""
        proxy = proxy_input(self, len(ids), shown)
        if proxy is None:
            return
        for sid in ids:
            self.host.op(partial(_set_proxy, sid, proxy), f"set proxy of {sid}").success(
                self._on_proxy_set
            ).run()
        what = "removed" if not proxy.strip() else "set"
        self.statusBar().showMessage(
            f"Proxy {what} for {len(ids)} account(s); running sessions use it from their next "
            "start or restart.",
            8000,
        )

    def _on_proxy_set(self, info: SessionInfo) -> None:
        self.sessions.upsert([info])

    @Slot(str)
    def _on_window_requested(self, session_id: str) -> None:
        self.host.open_window(session_id)
        self.statusBar().showMessage(
            "Opening a browser window on this screen; have the customer confirm with the "
            "passkey on their phone.",
            10000,
        )

    def open_settings(self) -> None:
        from app.ui.settings_dialog import SettingsDialog

        SettingsDialog(self.settings, self).exec()

    def open_about(self) -> None:
        from app.ui.about_dialog import AboutDialog

        AboutDialog(self.settings, config_file=self.config_file, parent=self).exec()

    # -------------------------------------------------------------- slots

    def update_problems(self) -> None:
        """Recompute the banners from what the window holds (every second and on news)."""
        per_instance: dict[str, int] = {}
        disk_full = 0
        for i in range(self.sessions.rowCount()):
            row = self.sessions.row_at(i)
            per_instance[row.instance] = per_instance.get(row.instance, 0) + 1
            disk_full += is_disk_full(row.reason)
        self.banners.set_problems(
            find_problems(
                Snapshot(
                    engine_error=self._engine_error,
                    instances=self.instances.rows(),
                    down_since=self.instances.down_since,
                    sync=self._sync,
                    accounts=self.sessions.rowCount(),
                    per_instance=per_instance,
                    disk_full=disk_full,
                )
            )
        )

    @Slot()
    def _on_retry_timeout(self) -> None:
        if not self._engine_error:
            self._retry.stop()
            return
        if self.host.retry_start():
            self.statusBar().showMessage("Trying to start the engine again…", 4000)

    def _refresh_instances(self) -> None:
        self.host.op(lambda e: e.list_instances(), "instances").success(
            self._on_instances_refreshed
        ).failure(lambda _exc: None).run()

    def _on_instances_refreshed(self, infos: list[Any]) -> None:
        self.instances.load(infos)
        self.update_problems()

    @Slot(object)
    def _on_host_started(self, sandbox_url: object) -> None:
        self._engine_error = ""
        self._retry.stop()
        self.update_problems()
        if sandbox_url and not self.sandbox_url and self.settings.sandbox_mode:
            self.sandbox_url = str(sandbox_url)

    @Slot(list)
    def _on_host_sessions_loaded(self, sessions: list[SessionInfo]) -> None:
        self.sessions.load(sessions)
        self.wall_model.load(sessions)

    @Slot(list)
    def _on_host_instances_loaded(self, instances: list[Any]) -> None:
        self.instances.load(instances)
        self.diagnostics.set_instances([i.instance_id for i in instances])

    @Slot(list)
    def _on_host_session_events(self, events: list[EngineEvent]) -> None:
        self.sessions.apply(events)
        self._update_nav()
        self.notifier.note(events, self.sessions)
        self.onboarding_flow.on_events(events)

    @Slot(list)
    def _on_sessions_unknown_sessions(self, _ids: list[Any]) -> None:
        # Rows first seen in events (e.g. QRs published before `add_accounts` returned)
        # have no label yet: ask the engine, which owns labels. One fetch at a time.
        if self._fetching_labels:
            return
        self._fetching_labels = True

        def done(infos: list[SessionInfo]) -> None:
            self._fetching_labels = False
            known = [i for i in infos if self.sessions.row_for(i.session_id) is not None]
            self.sessions.upsert(known)

        def failed(_exc: BaseException) -> None:
            self._fetching_labels = False

        self.host.op(lambda e: e.list_sessions(), "labels").success(done).failure(failed).run()

    @Slot(list)
    def _on_host_instance_loads(self, loads: list[Any]) -> None:
        self.instances.apply(loads)

    @Slot(object)
    def _on_host_sync_status(self, status: SyncStatus) -> None:
        self._sync = status
        self.header.set_sync(status)
        self.update_problems()

    @Slot(str)
    def _on_host_engine_failed(self, message: str) -> None:
        first = not self._engine_error
        self._engine_error = message
        self.header.set_sync_unavailable()
        self.update_problems()
        if first:
            self.notifier.alert("pairdesk engine", message)
        if message.startswith("The engine did not start") and not self._retry.isActive():
            self._retry.start()

    @Slot(str, str)
    def _on_host_operation_failed(self, label: str, message: str) -> None:
        self.statusBar().showMessage(f"{label} failed: {message}", 10000)

    @Slot(dict)
    def _on_sessions_counts_changed(self, counts: dict[Any, int]) -> None:
        self._update_nav()

    def _update_nav(self) -> None:
        # One source each: the sessions model for states, the wall model for "waiting
        # for a scan" (the wall's header, the navigation and the status bar agree).
        counts = self.sessions.counts()
        for_scan = self.wall_model.waiting_count()
        trouble = sum(counts.get(s, 0) for s in SessionState if s.needs_operator)
        self.nav.set_counts(for_scan, sum(counts.values()), trouble)
        self.totals.set_counts(counts, for_scan)

    @Slot()
    def _on_tick_timeout(self) -> None:
        self._ticks += 1
        stale = self.instances.any_down() or self.instances.any_leases()
        if stale and self._ticks % INSTANCES_REFRESH_TICKS == 0:
            self._refresh_instances()  # loads carry no reason nor lease health; the list does
        self.update_problems()
        self.sessions.tick()
        self.totals.set_load(*self.instances.total_load(), self.instances.rowCount())
        self._update_nav()
        self.onboarding_flow.update_progress()

    @Slot(str)
    def _on_header_search_changed(self, text: str) -> None:
        self.grid.search.setText(text)
        if text and self.stack.currentIndex() != 1:
            self.show_view(1)

    @Slot()
    def _on_search_shortcut(self) -> None:
        self.header.search.setFocus()
        self.header.search.selectAll()

    @Slot(str)
    def _on_totals_filter_requested(self, group: str) -> None:
        self.grid.set_filter(group)
        self.show_view(1)

    @Slot(str)
    def diagnose_session(self, session_id: str) -> None:
        """Diagnose › Timeline for this session: no id to type."""
        self.show_view(4, tab=0)
        self.diagnose.show_timeline(session_id)

    @Slot(str)
    def _on_grid_timeline_requested(self, session_id: str) -> None:
        row = self.sessions.row_for(session_id)
        self.drawer.show_session(session_id, row.label if row else "")
        self.diagnose.load_timeline(
            session_id, lambda entries: self.drawer_model.set_entries(session_id, entries)
        )

    @Slot(str)
    def _on_restart_instance_requested(self, instance_id: str) -> None:
        self.host.op(lambda e: e.restart_instance(instance_id), f"restart {instance_id}").run()
        self.statusBar().showMessage(f"Restarting {instance_id}…", 4000)

    @Slot()
    def _on_add_instance_requested(self) -> None:
        self.host.op(lambda e: e.add_instance(), "add instance").success(
            lambda info: self.instances.load([info])
        ).run()

    @Slot(str)
    def _on_instance_log_requested(self, instance_id: str) -> None:
        self.show_view(4)
        self.diagnostics.show_instance_log(instance_id)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.statusBar().showMessage("Stopping sessions and instances…")
        self.host.close()
        event.accept()

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        if self.overlay.isVisible():
            self.overlay.hide()
            self.overlay.toggle()
