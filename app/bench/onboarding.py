"""onboarding: accounts through the console's focus mode, scanned as they appear.

The whole console (`MainWindow`, offscreen) over the real engine (two
instances, warm pool on) through `EngineHost`, as staff run it: the accounts
of an import are created at once (`sig_create_requested`, what "Start
scanning" emits), focus mode shows one QR at a time. The test phone plays a
camera: the moment a new QR is painted in focus mode it decodes the QR from
the widget's own pixels (zxing-cpp) and posts the scan, from its own thread.

Figures: accounts per minute (create -> last one connected), add -> first
QR painted, and the operator's wait from one scan succeeding to the next QR
on screen (target 0: the next QR is already there).
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor

import httpx

from app.bench._baseline import phone_number
from app.bench._context import BenchContext
from app.bench._harness import ScenarioResult, ms, summary

NAME = "onboarding"


def run_qt(ctx: BenchContext, result: ScenarioResult, limit: float) -> None:
    from app.bench.grid import qt_app

    n = ctx.options.count(50, 3)
    app = qt_app()
    from app.bootstrap import open_engine
    from app.domain.models import AccountSpec
    from app.ui.engine_host import EngineHost
    from app.ui.main_window import MainWindow
    from app.ui.test_phone import ScanError, decode_widget

    with ctx.sandbox() as url:
        settings = ctx.engine_settings(
            "onboarding", provider_url=url, instances=2, warm_pool=2, max_sessions=n
        )
        host = EngineHost(lambda: open_engine(settings))
        window = MainWindow(host, settings=settings)
        window.resize(1400, 900)
        window.show()
        phone = httpx.Client(base_url=url, timeout=10)
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bench-phone")
        loaded: list[bool] = []
        host.sig_sessions_loaded.connect(lambda _rows: loaded.append(True))
        first_painted: dict[str, float] = {}
        waits: list[float] = []
        scanned: set[str] = set()
        started: set[str] = set()
        pending: tuple[str, Future[httpx.Response]] | None = None
        last_ok = 0.0
        deadline = time.monotonic() + limit - 15
        try:
            host.start()
            while not loaded:
                _spin(app, deadline, "the engine did not start")
            specs = [AccountSpec(workspace_id=900, label=f"Onboard {i}") for i in range(n)]
            created = time.perf_counter()
            window.onboarding.sig_create_requested.emit(specs)
            window.enter_focus()
            while len(scanned) < n or not _all_connected(window, n):
                _spin(app, deadline, f"only {len(scanned)} of {n} accounts scanned in time", window)
                if pending is not None and pending[1].done():
                    sid, future = pending
                    pending = None
                    try:
                        ok = future.result().status_code == 200
                    except httpx.HTTPError:
                        ok = False
                    if ok:
                        scanned.add(sid)
                        last_ok = time.perf_counter()
                sid = window.focus.current_id
                _check_stuck(window, started)
                qr = window.focus.qr.qr_text()
                if not sid or not qr or sid in scanned or pending is not None:
                    continue
                now = time.perf_counter()
                first_painted.setdefault(sid, now)
                if last_ok:
                    waits.append((now - last_ok) * 1000)
                    last_ok = 0.0
                try:
                    seen = decode_widget(window.focus.qr)  # the camera: pixels, not the model
                except ScanError:
                    continue  # not readable yet (overlay, half painted): look again
                if seen:
                    body = {"qr": seen, "phone": phone_number(90_000 + len(scanned))}
                    pending = (sid, pool.submit(phone.post, "phone/scan", json=body))
            finished = time.perf_counter()
        finally:
            pool.shutdown(wait=True)
            phone.close()
            host.close(timeout=60)
            window.close()
    painted = [(t - created) * 1000 for t in first_painted.values()]
    wait_stats = summary(waits)
    per_minute = n / ((finished - created) / 60)
    result.figures.update(
        accounts=n,
        accounts_per_minute=round(per_minute, 1),
        total_s=round(finished - created, 1),
        create_to_first_qr_painted_ms=summary(painted),
        operator_wait_ms=wait_stats,
    )
    result.row("accounts per minute", f"{per_minute:.1f} ({n} accounts)", "")
    result.row(
        "scan ok -> next QR on screen p50 / p95",
        f"{ms(wait_stats)} / {ms(wait_stats, 'p95')}",
        "0 (already there)",
    )
    first = summary(painted[:1])
    result.row("create -> first QR painted", ms(first), "")


def _spin(app: object, deadline: float, message: str, window: object = None) -> None:
    if time.monotonic() > deadline:
        if window is not None:
            counts = {s.value: c for s, c in window.sessions.counts().items()}  # type: ignore[attr-defined]
            focus = window.focus  # type: ignore[attr-defined]
            message += f"; states {counts}; focus on {focus.current_id or 'nothing'}"
            message += f" with{'' if focus.qr.qr_text() else 'out'} a QR"
        raise RuntimeError(message)
    app.processEvents()  # type: ignore[attr-defined]
    time.sleep(0.002)


def _all_connected(window: object, n: int) -> bool:
    from app.domain.states import SessionState

    counts = window.sessions.counts()  # type: ignore[attr-defined]
    return bool(counts.get(SessionState.CONNECTED, 0) >= n)


def _check_stuck(window: object, started: set[str]) -> None:
    """An account that started, then ended stopped or failed, will never be scanned:
    say so rather than wait for it."""
    from app.domain.states import SessionState

    ended = []
    model = window.sessions  # type: ignore[attr-defined]
    for i in range(model.rowCount()):
        row = model.row_at(i)
        if row.state in (SessionState.STARTING, SessionState.QR):
            started.add(row.session_id)
        elif row.session_id in started and row.state in (
            SessionState.STOPPED,
            SessionState.FAILED,
        ):
            ended.append(f"{row.session_id} {row.state.value} ({row.reason or 'no reason'})")
    if ended:
        raise RuntimeError("accounts ended before their scan (engine): " + "; ".join(ended))
