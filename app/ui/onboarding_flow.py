"""`OnboardingFlow`: runs one onboarding batch against the engine, for the Onboard view.

The valid rows become accounts created *stopped* (`add_accounts(start=False)`),
so no QR opens before staff get to it. The flow then starts sessions so
that exactly the run's warm window is open (`OnboardingRun.next_moves`: the
current account and the next two at a person's pace, up to twelve when scans
come faster, `warm_for`), and moves the window on as soon as an
account is scanned, while focus mode (which follows the run's order) has
already moved to the next QR on screen. Pause stops the warm QRs that nobody
scanned; resume opens them again. Skip sends an account to the back of the
queue. What counts as scanned, connected or given up is the run's business
(`app.operator.onboarding`, shared with `pairdesk onboard`); this module only
turns its moves into engine operations.

While staff check a loaded sheet, the flow asks the engine to keep as many
login pages booted as the widest window opens (`Engine.warm_up`,
`warm_up_pages`), so the first scans of a fast batch find their QRs already
there instead of waiting for pages to boot; the pages go back when the batch
is finished, or when a sheet with no valid row replaces it (and by
themselves after `WARM_UP_SECONDS` if the console goes away).
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from functools import partial

from PySide6.QtCore import QObject, Signal

from app.domain.events import EngineEvent
from app.domain.models import AccountSpec, SessionInfo
from app.engine.api import Engine
from app.operator.onboarding import OnboardingRun, warm_up_pages
from app.ui.engine_host import EngineHost
from app.ui.focus_view import FocusView
from app.ui.onboarding_view import OnboardingView
from app.ui.sessions_model import SessionsModel


def _start(session_id: str, engine: Engine) -> Awaitable[None]:
    return engine.start_session(session_id)


def _stop(session_id: str, engine: Engine) -> Awaitable[None]:
    return engine.stop_session(session_id)


def _logout(session_id: str, engine: Engine) -> Awaitable[None]:
    return engine.logout_session(session_id)


def _pairing_code(session_id: str, phone: str, engine: Engine) -> Awaitable[None]:
    return engine.request_pairing_code(session_id, phone)


class OnboardingFlow(QObject):
    """Creates a batch and keeps its next QRs warm.

    Signals:
        sig_focus_requested(): the accounts exist; show focus mode.
        sig_message(str): something for the status bar.
    """

    sig_focus_requested = Signal()
    sig_message = Signal(str)

    def __init__(
        self,
        host: EngineHost,
        *,
        sessions: SessionsModel,
        view: OnboardingView,
        focus: FocusView,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._host = host
        self._sessions = sessions
        self._view = view
        self._focus = focus
        view.sig_create_requested.connect(self.begin)
        view.sig_rows_checked.connect(self.warm_up)
        self._warm_pages = 0  # what the engine was last asked to keep booted
        focus.sig_pause_toggled.connect(self.toggle_pause)
        focus.sig_skipped.connect(self.skip)

    @property
    def run(self) -> OnboardingRun | None:
        return self._view.run

    def warm_up(self, rows: int) -> None:
        """A sheet of `rows` valid accounts is on screen: have their first pages booted."""
        self._ask_warm(warm_up_pages(rows))

    def _ask_warm(self, pages: int) -> None:
        if pages == self._warm_pages:
            return
        self._warm_pages = pages
        op = self._host.op(lambda e: e.warm_up(pages), f"warm up {pages} login pages")
        op.failure(self._on_warm_up_failed).run()

    def _on_warm_up_failed(self, error: BaseException) -> None:
        self._warm_pages = 0  # unknown now: ask again with the next sheet
        self.sig_message.emit(
            f"Could not open login pages ahead ({error}); "
            "the first QRs of the batch may take a second longer to show."
        )

    def begin(self, specs: Sequence[AccountSpec]) -> None:
        specs = list(specs)
        self.sig_message.emit(f"Creating {len(specs)} accounts…")
        self._host.op(lambda e: e.add_accounts(specs, start=False), "add accounts").success(
            self._on_created
        ).failure(self._on_failed).run()

    def _on_created(self, infos: list[SessionInfo]) -> None:
        self._sessions.upsert(infos)
        run = self._view.begin(infos)
        self._focus.set_order(run.order)
        self._warm()
        self.update_progress()
        self.sig_focus_requested.emit()

    def _on_failed(self, error: BaseException) -> None:
        self._view.creation_failed(str(error) or type(error).__name__)
        self.sig_message.emit(f"Nothing was created: {error}")

    def on_events(self, events: Sequence[EngineEvent]) -> None:
        run = self.run
        if run is None:
            return
        changed = False
        for ev in events:
            changed = run.apply(ev) or changed
        if changed:
            self._warm()
            self.update_progress()
            if run.finished:
                self._ask_warm(0)  # the batch is done: give the pages back

    def toggle_pause(self) -> None:
        run = self.run
        if run is None:
            return
        run.set_paused(not run.paused)
        self._warm()
        self.update_progress()
        self.sig_message.emit("Onboarding paused" if run.paused else "Onboarding resumed")

    def skip(self, session_id: str) -> None:
        run = self.run
        if run is None or session_id not in run.session_ids:
            return
        run.skip(session_id)
        self._focus.set_order(run.order)
        self._warm()
        self.update_progress()

    def _warm(self) -> None:
        run = self.run
        if run is None:
            return
        for sid in run.take_logouts():  # linked by the wrong phone: unlink it now
            self._host.op(partial(_logout, sid), f"log out {sid}").run()
            self.sig_message.emit(f"{sid}: {run.result_of(sid)}; logged out")
        start, stop = run.next_moves()
        for sid in stop:
            self._host.op(partial(_stop, sid), f"stop {sid}").run()
        for sid in start:
            phone = run.code_phone(sid)  # by phone number: asking for a code opens it
            call = partial(_pairing_code, sid, phone) if phone else partial(_start, sid)
            op = self._host.op(call, f"start {sid}")
            op.failure(partial(self._on_start_failed, sid)).run()

    def _on_start_failed(self, session_id: str, error: BaseException) -> None:
        run = self.run
        if run is None:
            return
        run.note_ended(session_id, "not started")
        self.sig_message.emit(f"{session_id} did not start: {error}")
        self._warm()
        self.update_progress()

    def update_progress(self) -> None:
        run = self.run
        if run is None:
            return
        self._view.update_progress()
        self._focus.set_progress(
            len(run.connected), len(run.session_ids), run.summary(), run.paused
        )
