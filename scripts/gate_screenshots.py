"""Screenshots of the gates in the console, on the real engine and the embedded sandbox.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/gate_screenshots.py [OUT_DIR]

Builds, through the console's own buttons' engine calls and the sandbox's test
phone and fault knobs: an account blocked by the site (PROXYBLOCK), one that
must confirm with its passkey, one linking by phone number (pairing code), one
waiting for a QR scan, and one whose proxy refuses connections. Then writes
`gates-wall.png` (the QR wall), `gates-focus-code.png` (focus mode on the code),
`gates-grid.png` (the health grid with the proxy column and the timeline of the
blocked account). Everything runs in a temporary folder and is stopped at the end.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from app.bootstrap import open_engine
from app.config import Settings
from app.domain.models import AccountSpec, SessionInfo
from app.domain.proxy import parse_proxy
from app.domain.states import SessionState
from app.sandbox import AsyncTestPhone
from app.ui.bench_probes import qt_app, spin
from app.ui.engine_host import EngineHost
from app.ui.main_window import MainWindow

S = SessionState
PASSKEY_PHONE = "6281299900001"
CODE_PHONE = "6281299900002"


def main(out: Path) -> None:
    app = qt_app()
    with tempfile.TemporaryDirectory(prefix="pairdesk-shots-") as tmp:
        settings = Settings.load(
            environ={},
            cwd=Path(tmp),
            flags={
                "data_dir": Path(tmp) / "data",
                "sessions_dir": Path(tmp) / "sessions",
                "instances": 1,
                "warm_pool": 0,
                "time_scale": 1.0,
            },
        )
        host = EngineHost(lambda: open_engine(settings))
        window = MainWindow(host, settings=settings)
        window.resize(1500, 980)
        host.start()
        window.show()
        spin(app, lambda: bool(window.sandbox_url), timeout=120, what="the engine did not start")
        try:
            _build(app, host, window)
            _shoot(app, window, out)
        finally:
            window.close()
            host.close()


def _call(app: Any, host: EngineHost, make: Callable[[], Awaitable[Any]], what: str) -> Any:
    done: list[Any] = []
    failed: list[BaseException] = []
    host.run_coroutine(make, what).success(done.append).failure(failed.append).run()
    spin(app, lambda: bool(done or failed), timeout=120, what=what)
    if failed:
        raise RuntimeError(f"{what}: {failed[0]}")
    return done[0]


def _state(window: MainWindow, session_id: str) -> SessionState | None:
    row = window.sessions.row_for(session_id)
    return row.state if row is not None else None


def _build(app: Any, host: EngineHost, window: MainWindow) -> None:
    url = window.sandbox_url
    phone = AsyncTestPhone(url)
    engine = host._engine
    assert engine is not None

    def add(spec: AccountSpec) -> SessionInfo:
        infos = _call(app, host, lambda: engine.add_accounts([spec]), f"add {spec.label}")
        window.sessions.upsert(infos)
        return infos[0]

    def qr_of(sid: str) -> str:
        spin(app, lambda: bool(e := window.wall_model.entry_for(sid)) and bool(e.qr), timeout=60,
             what=f"no QR for {sid}")  # fmt: skip
        entry = window.wall_model.entry_for(sid)
        assert entry is not None
        return entry.qr

    # 1. Blocked: the site refuses this network (a page on its own while the fault is on).
    blocked = add(AccountSpec(workspace_id=31, label="Warung Barokah"))
    qr_of(blocked.session_id)
    _call(app, host, lambda: phone.set_faults(block_state="PROXYBLOCK"), "block")
    spin(app, lambda: _state(window, blocked.session_id) is S.FAILED, timeout=60, what="block")
    _call(app, host, phone.reset_faults, "reset faults")
    # 2. Passkey: the phone accepts the QR, then the page asks for the passkey.
    _call(app, host, lambda: phone.set_faults(passkey=PASSKEY_PHONE), "passkey fault")
    passkey = add(AccountSpec(workspace_id=32, label="Klinik Sehat", phone_number=PASSKEY_PHONE))
    qr = qr_of(passkey.session_id)
    _call(app, host, lambda: phone.scan(qr, PASSKEY_PHONE), "scan")
    spin(app, lambda: _state(window, passkey.session_id) is S.PASSKEY_REQUIRED, timeout=60,
         what="passkey")  # fmt: skip
    # 3. By phone number: a pairing code instead of the QR.
    by_code = add(AccountSpec(workspace_id=33, label="Toko Maju", phone_number=CODE_PHONE))
    qr_of(by_code.session_id)
    window.host.request_pairing_code(by_code.session_id, CODE_PHONE)
    spin(app, lambda: bool(e := window.wall_model.entry_for(by_code.session_id)) and bool(e.code),
         timeout=60, what="pairing code")  # fmt: skip
    # 4. A plain QR, with a proxy of its own shown in the grid.
    with socket.socket() as free:  # a proxy port nobody listens on, for account 5
        free.bind(("127.0.0.1", 0))
        dead = free.getsockname()[1]
    plain = add(AccountSpec(workspace_id=34, label="Kopi Kita"))
    qr_of(plain.session_id)
    info = _call(
        app,
        host,
        lambda: engine.set_proxy(plain.session_id, "http://agent7:s3cret@proxy.example.net:3128"),
        "set proxy",
    )
    window.sessions.upsert([info])
    # 5. A proxy that refuses: named at once, never a silent QR time-out.
    refused = add(
        AccountSpec(
            workspace_id=35, label="Laundry Bersih", proxy=parse_proxy(f"http://127.0.0.1:{dead}")
        )
    )
    spin(app, lambda: _state(window, refused.session_id) is S.FAILED, timeout=90,
         what="proxy_unreachable")  # fmt: skip
    _call(app, host, phone.aclose, "close phone")
    window.host.flush()
    app.processEvents()
    window._blocked_for_timeline = blocked.session_id  # type: ignore[attr-defined]


def _shoot(app: Any, window: MainWindow, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)

    def grab(name: str) -> None:
        window.host.flush()
        window.wall.refresh()
        window.focus.refresh()
        for _ in range(20):
            app.processEvents()
        path = out / name
        window.grab().save(str(path))
        print(f"screenshot: {path}")

    window.show_view(0)
    window.leave_focus()
    grab("gates-wall.png")
    window.enter_focus()
    grab("gates-focus-code.png")
    window.leave_focus()
    window.show_view(1)
    blocked = window._blocked_for_timeline  # type: ignore[attr-defined]
    window._on_grid_timeline_requested(blocked)
    spin(app, lambda: window.drawer_model.rowCount() > 1, timeout=30, what="timeline")
    splitter = window.drawer.parentWidget()
    splitter.setSizes([760, 560])  # type: ignore[attr-defined]
    grab("gates-grid.png")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/screenshots"))
    asyncio.set_event_loop(None)
