"""onboarding: accounts through the console's focus mode, scanned as they appear.

The whole console (`MainWindow`, offscreen) over the real engine (two
instances, warm pool of 2 each, the default) through `EngineHost`, as staff
run it: the sheet is loaded into the Onboard view (which asks the engine to
keep login pages booted for the batch, `Engine.warm_up`), staff take a few
seconds to check it (the bench waits until those pages are booted), then
"Start scanning" creates the accounts at once and focus mode shows one QR at
a time. The test phone plays a
camera: the moment a new QR is painted in focus mode it takes a picture of
the widget (its own rendered pixels, grabbed on the GUI thread: the one thing
a camera needs from the screen), then decodes it (zxing-cpp) and posts the
scan on its own thread, as a phone does on its own processor, so the
console's GUI thread is not charged for the phone's work.

Figures: accounts per minute (create -> last one connected), create -> first
QR painted, and the operator's wait from one scan succeeding (the test
phone's OK) to the next account's QR painted in focus mode (a paint event
delivered to the focus `QrView`, `app.ui.bench_probes.PaintWatch`), 0 when it was
already painted before the OK (target 0: the next QR is already there). The
camera's own time (QR painted -> scan posted: grab, decode) and the phone's
answer time are reported too: they bound the accounts per minute.
"""

from __future__ import annotations

import math
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from app.bench._baseline import phone_number
from app.bench._context import BenchContext
from app.bench._harness import ScenarioResult, ms, summary
from app.sandbox import PhoneError, TestPhone

NAME = "onboarding"


def run_qt(ctx: BenchContext, result: ScenarioResult, limit: float) -> None:
    from app.ui.bench_probes import PaintWatch, qt_app

    n = 3 if ctx.options.quick else 50
    app = qt_app()
    from app.bootstrap import open_engine
    from app.ui.engine_host import EngineHost
    from app.ui.main_window import MainWindow
    from app.ui.test_phone import ScanError, decode_image

    with ctx.sandbox() as url:
        settings = ctx.engine_settings(
            "onboarding", provider_url=url, instances=2, warm_pool=2, max_sessions=n
        )
        host = EngineHost(lambda: open_engine(settings))
        window = MainWindow(host, settings=settings)
        window.resize(1400, 900)
        window.show()
        watch = PaintWatch()
        watch.watch(window.focus.qr, "focus")
        watch.watch(window.focus.next_qr, "next")  # the next QR, drawn beside the current one
        phone = TestPhone(url)
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bench-phone")
        loaded: list[bool] = []
        host.sig_sessions_loaded.connect(lambda _rows: loaded.append(True))
        owner: dict[str, str] = {}  # QR string -> session id
        scans: list[tuple[str, float, float]] = []  # (session, posted, answered ok)
        seen_at: list[float] = []  # each scanned QR: first painted -> scan posted, ms
        scanned: set[str] = set()
        started: set[str] = set()
        pending: tuple[str, float, Future[tuple[bool, float, float]]] | None = None
        started_at: dict[str, float] = {}  # session -> first seen starting (sessions model)
        qr_at: dict[str, float] = {}  # session -> its first QR in the wall model
        deadline = time.monotonic() + limit - 15

        def scan(picture: Any, number: str) -> tuple[bool, float, float]:  # a QImage
            """The phone: decode the picture, post the scan. (linked, posted, answered);
            posted is 0 when the picture held no readable QR (overlay, half painted)."""
            try:
                seen = decode_image(picture)
            except ScanError:
                return False, 0.0, 0.0
            posted = time.perf_counter()
            try:
                phone.scan(seen, number)
            except PhoneError:
                return False, posted, 0.0
            return True, posted, time.perf_counter()

        try:
            host.start()
            while not loaded:
                _spin(app, deadline, "the engine did not start")
            sheet = "workspace_id,label\n" + "".join(f"900,Onboard {i}\n" for i in range(n))
            window.onboarding.load_text(sheet)
            # Staff take a few seconds to check the sheet: the pages the console asked
            # the engine for are booted by then.
            pages = _pages_warm(n, instances=settings.instances, warm_pool=settings.warm_pool)
            pool_ready = _wait_pool(app, phone, pages, min(30.0, deadline - time.monotonic()))
            created = time.perf_counter()
            window.onboarding.start.click()  # creates the accounts: sig_create_requested
            window.enter_focus()
            while len(scanned) < n or not _all_connected(window, n):
                _spin(app, deadline, f"only {len(scanned)} of {n} accounts scanned in time", window)
                now = time.perf_counter()
                for entry in window.wall_model.entries():
                    if entry.qr:
                        owner.setdefault(entry.qr, entry.session_id)
                        qr_at.setdefault(entry.session_id, now)
                _note_started(window, started_at, now)
                if pending is not None and pending[2].done():
                    sid, shown, future = pending
                    pending = None
                    linked, posted, answered = future.result()
                    if posted:
                        seen_at.append((posted - shown) * 1000)
                    if linked:
                        scanned.add(sid)
                        scans.append((sid, posted, answered))
                sid = window.focus.current_id
                _check_stuck(window, started)
                qr = window.focus.qr.qr_text()
                if not sid or not qr or sid in scanned or pending is not None:
                    continue
                if qr not in watch.first:
                    continue  # the camera sees only what was painted
                picture = window.focus.qr.grab().toImage()  # the camera: pixels, not the model
                number = phone_number(90_000 + len(scanned))
                pending = (sid, watch.first[qr], pool.submit(scan, picture, number))
            finished = time.perf_counter()
        finally:
            pool.shutdown(wait=True)
            phone.close()
            host.close(timeout=60)
            window.close()
    waits = _waits(scans, watch.paints, owner)
    trace = _trace(scans, waits, watch.paints, owner, started_at, qr_at)
    painted = [p.at for p in watch.paints if owner.get(p.qr)]
    wait_stats = summary(waits)
    per_minute = n / ((finished - created) / 60)
    first_ms = [(painted[0] - created) * 1000] if painted else []
    result.figures.update(
        accounts=n,
        accounts_per_minute=round(per_minute, 1),
        total_s=round(finished - created, 1),
        warm_pages_at_create=pages,
        warm_pages_booted_at_create=pool_ready,
        create_to_first_qr_painted_ms=summary(first_ms),
        operator_wait_ms=wait_stats,
        waits_zero=sum(1 for w in waits if w == 0.0),
        painted_to_scan_posted_ms=summary(seen_at),
        scan_post_ms=summary([(ok - posted) * 1000 for _, posted, ok in scans]),
        waits_trace=trace,
        waits_by_cause=_causes(trace),
        first_scans=_first_scans(scans, watch.paints, owner, started_at, qr_at, created),
    )
    result.row("accounts per minute", f"{per_minute:.1f} ({n} accounts)", "")
    result.row(
        "scan ok -> next QR on screen p50 / p95",
        f"{ms(wait_stats)} / {ms(wait_stats, 'p95')} "
        f"({result.figures['waits_zero']} of {len(waits)} already there)",
        "0 (already there)",
        met=bool(waits) and result.figures["waits_zero"] == len(waits),
    )
    result.row("create -> first QR painted", ms(summary(first_ms)), "")


def _waits(
    scans: list[tuple[str, float, float]], paints: list[Any], owner: dict[str, str]
) -> list[float]:
    """Per scan but the last: from the phone's OK to another account's QR (not scanned
    yet) on screen. 0 when it was there already: the "next" QR beside the current one
    showed such an account when the OK came. Else the wait until the first paint, after
    the scan was posted, of such a QR in focus mode (either widget)."""
    waits = []
    done: set[str] = set()
    for k, (sid, posted, ok) in enumerate(scans[:-1]):
        done.add(sid)
        later = {s for s, _, _ in scans[k + 1 :]}

        def waiting(paint: Any, later: set[str] = later) -> bool:
            who = owner.get(paint.qr, "")
            return bool(who) and who not in done and who in later

        beside = [p for p in paints if p.key == "next" and p.at <= ok]
        if beside and waiting(beside[-1]):
            waits.append(0.0)
            continue
        for paint in paints:
            if paint.at > posted and waiting(paint):
                waits.append(round(max(0.0, (paint.at - ok) * 1000), 1))
                break
    return waits


def _note_started(window: object, started_at: dict[str, float], now: float) -> None:
    from app.domain.states import SessionState

    model = window.sessions  # type: ignore[attr-defined]
    for i in range(model.rowCount()):
        row = model.row_at(i)
        if row.state is not SessionState.STOPPED:
            started_at.setdefault(row.session_id, now)


def _trace(
    scans: list[tuple[str, float, float]],
    waits: list[float],
    paints: list[Any],
    owner: dict[str, str],
    started_at: dict[str, float],
    qr_at: dict[str, float],
) -> list[dict[str, Any]]:
    """For each wait > 0: the account scanned next, relative to the phone's OK (ms;
    negative = before the OK): when its session left `stopped` in the console, when its
    QR reached the wall model, when it was first painted (either widget), and what the
    "next" widget showed at the OK. The cause: `no QR yet` (its QR reached the console
    after the OK: supply), `not painted` (QR there, never drawn before the OK: display),
    `other account beside` (the widget showed an account that was not scanned next)."""

    def rel(t: float | None, ok: float) -> float | None:
        return None if t is None else round((t - ok) * 1000, 1)

    out = []
    for k, ((sid, _posted, ok), wait) in enumerate(zip(scans[:-1], waits, strict=False)):
        if wait <= 0:
            continue
        nxt = scans[k + 1][0]
        first = next((p.at for p in paints if owner.get(p.qr) == nxt), None)
        beside = [p for p in paints if p.key == "next" and p.at <= ok]
        shown = owner.get(beside[-1].qr, "") if beside else ""
        q = qr_at.get(nxt)
        if q is None or q > ok:
            cause = "no QR yet"
        elif first is None or first > ok:
            cause = "not painted"
        else:
            cause = "other account beside"
        out.append(
            {
                "scan": k,
                "scanned": sid,
                "next": nxt,
                "wait_ms": wait,
                "next_started_ms": rel(started_at.get(nxt), ok),
                "next_qr_in_model_ms": rel(q, ok),
                "next_first_painted_ms": rel(first, ok),
                "beside_at_ok": shown,
                "cause": cause,
            }
        )
    return out


def _first_scans(
    scans: list[tuple[str, float, float]],
    paints: list[Any],
    owner: dict[str, str],
    started_at: dict[str, float],
    qr_at: dict[str, float],
    created: float,
    count: int = 10,
) -> list[dict[str, Any]]:
    """The run's first `count` scans on one clock (ms from create): when each account
    was seen starting, its QR reached the wall model, was first painted, was scanned
    (posted) and the phone said OK. The first scans are where a wait is likeliest:
    every page is booting at once."""

    def rel(t: float | None) -> float | None:
        return None if t is None else round((t - created) * 1000, 1)

    out = []
    for sid, posted, ok in scans[:count]:
        first = next((p.at for p in paints if owner.get(p.qr) == sid), None)
        out.append(
            {
                "session": sid,
                "started": rel(started_at.get(sid)),
                "qr_in_model": rel(qr_at.get(sid)),
                "painted": rel(first),
                "posted": rel(posted),
                "ok": rel(ok),
            }
        )
    return out


def _causes(trace: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in trace:
        out[t["cause"]] = out.get(t["cause"], 0) + 1
    return out


def _pages_warm(accounts: int, *, instances: int, warm_pool: int) -> int:
    """Login pages the engine keeps booted once the console asked for a batch of
    `accounts` (`warm_up_pages`, split over the instances, `MAX_WARM_UP_PAGES` each)."""
    from app.engine.api import MAX_WARM_UP_PAGES
    from app.operator.onboarding import warm_up_pages

    each = math.ceil(warm_up_pages(accounts) / instances)
    return instances * max(warm_pool, min(MAX_WARM_UP_PAGES, each))


def _wait_pool(app: Any, sandbox: TestPhone, size: int, timeout: float) -> bool:
    """Until the sandbox shows `size` login pages waiting, bound to nobody; False on timeout."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        stats = sandbox.stats()
        if stats["pages"]["by_state"].get("UNPAIRED", 0) >= size:
            return True
        app.processEvents()
        time.sleep(0.05)
    return False


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
