"""Start the console: QApplication, theme, engine host, main window, screenshots.

`run_console` is what `pairdesk gui` calls. The composition root hands it an
engine factory (`app.bootstrap.open_engine` bound to the settings); without
one, the console runs on the scripted `DemoEngine`. On a first run the
command line also hands it a `FirstRun`, and the first-run dialog
(`app/ui/first_run_dialog.py`) is shown before the engine starts.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication

from app import __version__
from app.config import Settings
from app.demo.data import LABELS
from app.domain.models import AccountSpec, SessionInfo
from app.engine.api import Engine
from app.ui import theme
from app.ui.engine_host import EngineFactory, EngineHost
from app.ui.main_window import MainWindow
from app.ui.qr_render import forget_images
from app.ui.window_actions import ScanPoster

if TYPE_CHECKING:
    from app.ui.first_run_dialog import FirstRun

DESKTOP_FILE = "io.pairdesk.Pairdesk"  # packaging/linux/io.pairdesk.Pairdesk.desktop


@dataclass(frozen=True)
class ConsoleOptions:
    demo: int = 0
    view: int = 0
    tab: int = 1  # diagnostics tab (Sync)
    screenshot: str = ""
    after: float = 2.0
    every: float = 0.0
    exit_after: float = 0.0
    theme: str = "system"
    size: tuple[int, int] = (1440, 900)
    demo_engine: bool = False
    demo_csv: str = ""
    config_file: str = ""  # the pairdesk.toml in use, shown by About


def demo_specs(n: int) -> list[AccountSpec]:
    return [AccountSpec(workspace_id=11 + 3 * k, label=LABELS[k % len(LABELS)]) for k in range(n)]


async def ensure_demo_accounts(engine: Engine, n: int) -> list[SessionInfo]:
    """The `n` demo accounts, reusing those an earlier run created (same workspace and
    label): `--demo 3` run four times leaves three, not twelve."""
    wanted = demo_specs(n)
    have = {(s.workspace_id, s.label) for s in await engine.list_sessions()}
    missing = [spec for spec in wanted if (spec.workspace_id, spec.label) not in have]
    return await engine.add_accounts(missing) if missing else []


def run_console(
    settings: Settings,
    options: ConsoleOptions,
    *,
    engine_factory: EngineFactory | None = None,
    first_run: FirstRun | None = None,
) -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("pairdesk")
    app.setApplicationVersion(__version__)
    # Wayland's app id / X11's desktop-file hint: the taskbar shows the .desktop entry's icon.
    app.setDesktopFileName(DESKTOP_FILE)
    app.setAttribute(Qt.ApplicationAttribute.AA_DontShowIconsInMenus, False)
    dark = None if options.theme == "system" else options.theme == "dark"
    theme.apply(app, dark)
    if options.theme == "system":
        app.styleHints().colorSchemeChanged.connect(lambda _s: theme.apply(app, None))
    config_file = Path(options.config_file) if options.config_file else None
    if first_run is not None:
        from app.ui.first_run_dialog import ask

        choice, written = ask(first_run)
        if choice:
            settings, engine_factory = first_run.reload()
            config_file = written

    scan_poster: ScanPoster | None = None
    if engine_factory is not None and not options.demo_engine:
        factory = engine_factory
    else:
        from app.demo.engine import DemoEngine

        demo = DemoEngine(fleet=48, instances=3)

        def factory() -> Engine:
            return demo

        scan_poster = demo.demo_scan

    host = EngineHost(factory)
    window = MainWindow(host, settings=settings, scan_poster=scan_poster, config_file=config_file)
    if engine_factory is None or options.demo_engine:
        window.setWindowTitle(window.windowTitle() + "  — DEMO DATA")
        window.header.demo.show()
    window.resize(*options.size)
    if options.demo:
        host.sig_started.connect(
            lambda _url: (
                host.op(lambda e: ensure_demo_accounts(e, options.demo), "demo")
                .success(window.sessions.upsert)
                .run()
            )
        )
    app.aboutToQuit.connect(host.close)
    # Ctrl+C / SIGTERM in the terminal quit like closing the window: every instance and
    # Chromium is stopped. Python runs the handler at the next slot (timers fire often).
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: app.quit())
    host.start()
    window.show()
    window.show_view(options.view)
    _prepare_view(window, options)
    if options.screenshot:
        _schedule_screenshots(app, window, options)
    code = app.exec()
    host.close()
    forget_images()
    return code


def _prepare_view(window: MainWindow, options: ConsoleOptions) -> None:
    if options.view == 3 and options.demo_csv:
        window.onboarding.load_text(options.demo_csv)
    if options.view == 4:
        d = window.diagnostics
        QTimer.singleShot(300, d.sig_doctor_requested.emit)
        QTimer.singleShot(300, d.sig_outbox_requested.emit)
        d.tabs.setCurrentIndex(options.tab)


def _schedule_screenshots(app: QApplication, window: MainWindow, options: ConsoleOptions) -> None:
    count = [0]

    def shoot() -> None:
        window.host.flush()
        window.sessions.tick()
        app.processEvents()
        count[0] += 1
        path = options.screenshot.replace("{n}", str(count[0]))
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        window.grab().save(path)
        print(f"screenshot: {path}")

    if options.every > 0:
        timer = QTimer(window)
        timer.timeout.connect(shoot)
        QTimer.singleShot(int(options.after * 1000), lambda: _both(shoot, timer.start))
        timer.setInterval(int(options.every * 1000))
        end = options.exit_after or options.after + options.every * 3
        QTimer.singleShot(int(end * 1000) + 50, window.close)
    else:
        QTimer.singleShot(int(options.after * 1000), lambda: _both(shoot, window.close))


def _both(first: Callable[[], object], second: Callable[[], object]) -> None:
    first()
    second()
