"""Two groups of the main window's handlers, kept out of `MainWindow` so it stays a map
of the views: the sandbox's test phone, and the Diagnose view's requests.

Both report in the window's status bar, where the operator looks after a click.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QFileDialog, QStatusBar, QWidget

from app.config import Settings
from app.engine.api import Engine
from app.logfiles import log_path, tail
from app.operator.bundle import write_bundle
from app.ui import test_phone
from app.ui.diagnostics_view import DiagnosticsView
from app.ui.engine_host import EngineHost
from app.ui.instances_model import InstancesModel
from app.ui.sessions_model import SessionsModel

ScanPoster = Callable[[str, str], Awaitable[None]]


class TestPhoneActions(QObject):
    """The sandbox's test phone, from a QR tile: scan the QR it shows, or enter a code.

    `sandbox_url` is read at each request: the window learns it when the engine starts.
    A `scan_poster` (tests, the bench) replaces the HTTP post to the sandbox.
    """

    def __init__(
        self,
        host: EngineHost,
        *,
        sessions: SessionsModel,
        status: QStatusBar,
        sandbox_url: Callable[[], str],
        scan_poster: ScanPoster | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._host = host
        self._sessions = sessions
        self._status = status
        self._sandbox_url = sandbox_url
        self._scan_poster = scan_poster

    @Slot(str, object)
    def scan(self, session_id: str, qr_view: QWidget) -> None:
        """Decode the QR as the tile shows it (what a camera would see) and post the scan."""
        try:
            qr = test_phone.decode_widget(qr_view)
        except test_phone.ScanError as exc:
            self._status.showMessage(str(exc), 8000)
            return
        row = self._sessions.row_for(session_id)
        # The account's own phone when it has one: any other phone is "wrong phone".
        phone = (row.phone if row else "") or test_phone.test_phone_number()
        url = self._sandbox_url()
        poster = self._scan_poster
        if poster is None and not url:
            self._status.showMessage("No sandbox test phone is running.", 8000)
            return

        def post() -> Awaitable[None]:
            return poster(qr, phone) if poster else test_phone.post_scan(url, qr, phone)

        self._status.showMessage(f"Test phone scanning {session_id}…", 4000)
        self._host.run_coroutine(post, "test phone scan").failure(self._failed).run()

    @Slot(str, str, str)
    def enter_code(self, session_id: str, code: str, phone: str) -> None:
        """Enter a pairing code on the test phone, as the customer would."""
        url = self._sandbox_url()
        if not url:
            self._status.showMessage("No sandbox test phone is running.", 8000)
            return
        self._status.showMessage(f"Test phone entering the code of {session_id}…", 4000)
        self._host.run_coroutine(
            lambda: test_phone.post_pair(url, code, phone), "test phone code"
        ).failure(self._failed).run()

    def _failed(self, exc: BaseException) -> None:
        self._status.showMessage(str(exc), 8000)


class DiagnosticsActions(QObject):
    """What the Diagnose view asks of the engine: timelines, the outbox and its retry,
    instance logs, doctor, the diagnostics bundle and the events export."""

    def __init__(
        self,
        host: EngineHost,
        *,
        settings: Settings,
        view: DiagnosticsView,
        instances: InstancesModel,
        status: QStatusBar,
        dialog_parent: QWidget,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._host = host
        self._settings = settings
        self._view = view
        self._instances = instances
        self._status = status
        self._dialog_parent = dialog_parent
        view.sig_timeline_requested.connect(self.show_timeline)
        view.sig_outbox_requested.connect(self.refresh_outbox)
        view.sig_retry_requested.connect(self._on_view_retry_requested)
        view.sig_log_requested.connect(self.show_log)
        view.sig_doctor_requested.connect(self._on_view_doctor_requested)
        view.sig_bundle_requested.connect(self._on_view_bundle_requested)
        view.events.sig_export_requested.connect(self._on_events_export_requested)

    def ask(
        self, call: Callable[[Engine], Awaitable[Any]], label: str, done: Callable[[Any], None]
    ) -> None:
        """Run `call` on the engine; `done` gets its result, a failure goes to the status bar."""

        def failed(exc: BaseException) -> None:
            self._status.showMessage(f"{label}: {exc}", 8000)

        self._host.op(call, label).success(done).failure(failed).run()

    def load_timeline(self, session_id: str, done: Callable[[list[Any]], None]) -> None:
        self.ask(lambda e: e.session_timeline(session_id), "timeline", done)

    @Slot(str)
    def show_timeline(self, session_id: str) -> None:
        """The session's timeline in Diagnose › Timeline."""
        self.load_timeline(
            session_id, lambda entries: self._view.show_timeline(session_id, entries)
        )

    @Slot()
    def refresh_outbox(self) -> None:
        self.ask(lambda e: e.list_outbox(), "sync outbox", self._view.show_outbox)

    @Slot(str)
    def show_log(self, instance_id: str) -> None:
        """The engine's in-memory tail of the instance's log; its own file when that is empty."""
        path = log_path(self._settings, instance_id)

        def show(lines: list[str]) -> None:
            self._view.show_log(lines or tail(path), str(path))

        self.ask(lambda e: e.instance_log(instance_id), "log", show)

    def export_bundle(self, path: Path) -> None:
        """Gather sessions, outbox, logs and doctor results from the engine, then zip them."""
        ids = [self._instances.info(r).instance_id for r in range(self._instances.rowCount())]

        async def gather(engine: Engine) -> dict[str, Any]:
            return {
                "sessions": await engine.list_sessions(),
                "outbox": await engine.list_outbox(),
                "doctor": await engine.doctor(),
                "logs": {iid: await engine.instance_log(iid) for iid in ids},
            }

        def write(data: dict[str, Any]) -> None:
            write_bundle(path, settings=self._settings, **data)
            self._view.show_bundle_result(f"Bundle written to {path}")

        self._host.op(gather, "diagnostics bundle").success(write).run()

    @Slot(list)
    def _on_view_retry_requested(self, event_ids: list[Any]) -> None:
        def done(n: int) -> None:
            self._status.showMessage(f"Requeued {n} dead event(s) for delivery", 6000)
            self.refresh_outbox()

        ids = [str(i) for i in event_ids]
        self.ask(lambda e: e.retry_outbox(ids), "retry", done)

    @Slot()
    def _on_view_doctor_requested(self) -> None:
        self.ask(lambda e: e.doctor(), "doctor", self._view.show_doctor)

    @Slot()
    def _on_view_bundle_requested(self) -> None:
        name = f"pairdesk-diagnostics-{datetime.now():%Y%m%d-%H%M%S}.zip"
        path, _ = QFileDialog.getSaveFileName(
            self._dialog_parent, "Export diagnostics bundle", name, "*.zip"
        )
        if path:
            self.export_bundle(Path(path))

    @Slot()
    def _on_events_export_requested(self) -> None:
        name = f"pairdesk-events-{datetime.now():%Y%m%d-%H%M%S}.jsonl"
        path, _ = QFileDialog.getSaveFileName(self._dialog_parent, "Export events", name, "*.jsonl")
        if path:
            n = self._view.events.export(Path(path))
            self._status.showMessage(f"{n} event(s) written to {path}", 8000)
