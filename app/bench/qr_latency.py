"""qr-latency: from "add account" to a QR the operator can scan, on screen.

Three designs, each over the same number of accounts added one after the
other (as an operator adds them), against one sandbox with boot delay 0,
each shown in the console's own QR wall (`SessionsModel` -> `QrWallModel`
-> `QrWallView`, offscreen) fed through the console's `EngineHost`:

- warm: pairdesk in `context` mode with its warm pool (2 pages), waiting
  between adds until the pool has refilled, as it would between two humans'
  scans;
- cold: pairdesk in `context` mode with the warm pool off: a new context and
  page per account;
- replaced: one persistent Chromium profile launched per account when it is
  added (whatsapp-web.js LocalAuth, `_baseline.ReplacedEngine`), its QR
  published into the same wall.

Two figures per design, both from the add call on the GUI thread:
`to_event` (the QR event reached the supervisor's subscriber; for the
replaced design, the host process has the QR string) and `to_painted` (a
paint event carrying that QR was delivered to the tile's `QrView`). Each
account is stopped after its QR is painted, so every add meets the same
engine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

from app.bench._context import BenchContext
from app.bench._harness import ScenarioResult, ms, summary
from app.domain.models import AccountSpec, SessionInfo
from app.engine.api import Engine
from app.sandbox import TestPhone
from app.ui.bench_probes import PaintWatch, StampedEngine, qt_app, spin

NAME = "qr-latency"
SEED_QR_MS = 8000.0  # the seed system: 8.0 s from add to QR (reference review)
WARM_POOL = 2


def run_qt(ctx: BenchContext, result: ScenarioResult, limit: float) -> None:
    from app.bench._baseline import ReplacedEngine
    from app.bootstrap import open_engine

    n = 3 if ctx.options.quick else 30
    figures = result.figures
    figures["accounts_per_design"] = n
    app = qt_app()
    deadline = time.monotonic() + limit - 10
    with ctx.sandbox() as url, TestPhone(url) as sandbox:

        def pairdesk(warm_pool: int) -> Callable[[], Engine]:
            name = "qr-warm" if warm_pool else "qr-cold"
            settings = ctx.engine_settings(name, provider_url=url, warm_pool=warm_pool)
            return lambda: open_engine(settings)

        def pool_ready() -> None:
            spin(app, lambda: _pool_size(sandbox) >= WARM_POOL, timeout=30, what="warm pool")

        def settle() -> None:
            until = time.monotonic() + 0.3  # let the previous page close; not counted
            spin(app, lambda: time.monotonic() > until, timeout=5, what="settle")

        root = ctx.folder("qr-replaced")
        designs: list[tuple[str, Callable[[], Engine], Callable[[], None]]] = [
            ("warm", pairdesk(WARM_POOL), pool_ready),
            ("cold", pairdesk(0), settle),
            (
                "replaced",
                lambda: ReplacedEngine(chromium_path=ctx.chromium_path, root=root, url=url),
                settle,
            ),
        ]
        for name, factory, before in designs:
            figures[name] = _design(app, factory, n, before, deadline)
    figures["seed_system_ms"] = SEED_QR_MS
    warm, cold, replaced = (figures[d]["to_painted_ms"] for d in ("warm", "cold", "replaced"))
    if replaced.get("p50"):
        figures["speedup_p50_warm_vs_replaced"] = round(replaced["p50"] / max(warm["p50"], 0.1), 1)
        figures["speedup_p50_cold_vs_replaced"] = round(replaced["p50"] / max(cold["p50"], 0.1), 1)
    for name, label, target, limit_ms in (
        ("warm", "warm pool", "p50 < 150 ms", 150.0),
        ("cold", "cold context", "p50 < 1 s", 1000.0),
        ("replaced", "replaced design", "seed system 8.0 s (real site)", None),
    ):
        event, painted = figures[name]["to_event_ms"], figures[name]["to_painted_ms"]
        result.row(
            f"add -> QR painted, {label} p50 / p95",
            f"{ms(painted)} / {ms(painted, 'p95')} (event {ms(event)})",
            target,
            met=None if limit_ms is None else painted.get("p50", 1e9) < limit_ms,
        )


def _design(
    app: Any, factory: Callable[[], Engine], n: int, before: Callable[[], None], deadline: float
) -> dict[str, Any]:
    """Add `n` accounts one at a time through a console wall; the two latencies of each."""
    from app.ui.engine_host import EngineHost
    from app.ui.qr_wall import QrWallView
    from app.ui.qr_wall_model import QrWallModel
    from app.ui.sessions_model import SessionsModel

    stamped: list[StampedEngine] = []

    def build() -> Engine:
        stamped.append(StampedEngine(factory()))
        return stamped[0]

    host = EngineHost(build)
    sessions = SessionsModel()
    wall_model = QrWallModel(sessions)
    wall = QrWallView(wall_model, sandbox=False)
    wall.resize(1400, 900)
    wall.show()
    watch = PaintWatch()

    def on_rows(*_: object) -> None:  # after the view made its tiles (connected later)
        for entry in wall_model.entries():
            tile = wall.tile(entry.session_id)
            if tile is not None:
                watch.watch(tile.qr, str(entry.workspace_id))

    def on_events(events: list[Any]) -> None:
        sessions.apply(events)
        wall_model.apply(events)

    wall_model.rowsInserted.connect(on_rows)
    host.sig_session_events.connect(on_events)
    loaded: list[bool] = []
    host.sig_sessions_loaded.connect(lambda _rows: loaded.append(True))
    to_event: list[float] = []
    to_painted: list[float] = []
    failures: list[BaseException] = []
    try:
        host.start()
        spin(
            app,
            lambda: bool(loaded),
            timeout=max(1.0, deadline - time.monotonic()),
            what="the engine did not start",
        )
        for i in range(n):
            ws = 100 + i
            before()
            spec = AccountSpec(workspace_id=ws, label=f"bench-{i}")
            started = time.perf_counter()
            host.op(partial(_add, spec), "add").failure(failures.append).run()
            engine = stamped[0]

            def painted(ws: int = ws) -> bool:
                if failures:
                    raise RuntimeError(f"add failed: {failures[-1]!s}")
                return any(p.key == str(ws) for p in watch.paints)

            spin(
                app,
                painted,
                timeout=max(1.0, deadline - time.monotonic()),
                what=f"no QR painted for account {i + 1} of {n}",
            )
            paint_at = next(p.at for p in watch.paints if p.key == str(ws))
            to_painted.append((paint_at - started) * 1000)
            to_event.append((engine.first_qr[ws] - started) * 1000)
            sid = engine.sid_of[ws]
            host.op(partial(_stop, sid), "stop").failure(failures.append).run()

            def gone(sid: str = sid) -> bool:
                if failures:
                    raise RuntimeError(f"stop failed: {failures[-1]!r}")
                return _gone(wall_model, sid)

            spin(
                app,
                gone,
                timeout=30,
                what="the account did not leave the wall after stop",
            )
    finally:
        host.close(timeout=60)
        wall.close()
    return {"to_event_ms": summary(to_event), "to_painted_ms": summary(to_painted)}


async def _add(spec: AccountSpec, engine: Engine) -> list[SessionInfo]:
    return await engine.add_accounts([spec])


async def _stop(sid: str, engine: Engine) -> None:
    await engine.stop_session(sid)


def _gone(wall_model: Any, sid: str) -> bool:
    return wall_model.entry_for(sid) is None


def _pool_size(sandbox: TestPhone) -> int:
    """Pages the sandbox shows waiting with a QR and bound to nobody: the warm pool."""
    stats = sandbox.stats()
    return int(stats["pages"]["by_state"].get("UNPAIRED", 0))
