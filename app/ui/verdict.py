"""A check's plain-language verdict on screen, and checks run off the GUI thread.

Used by the first-run dialog: a check (the `sync test` probe, the database)
is a coroutine run on a short-lived thread of its own, since the engine's
loop is not running yet; its `CheckOutcome` comes back through a callback
that emits a Qt signal, which Qt delivers on the GUI thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from html import escape

from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.first_run import CheckOutcome
from app.ui import theme


def run_check(
    make: Callable[[], Awaitable[CheckOutcome]], deliver: Callable[[CheckOutcome], None]
) -> None:
    """Run the check on its own thread; `deliver` gets its outcome (on that thread).

    The thread ends with the check (each check has its own timeout); a check
    that raises is delivered as a failed outcome naming the error.
    """

    def work() -> None:
        try:
            outcome = asyncio.run(_awaited(make))
        except Exception as exc:  # the verdict names any failure of the check itself
            outcome = CheckOutcome(False, "the check could not run", [f"{exc}"])
        try:
            deliver(outcome)
        except RuntimeError:  # the dialog was closed meanwhile
            pass

    threading.Thread(target=work, name="first-run-check", daemon=True).start()


async def _awaited(make: Callable[[], Awaitable[CheckOutcome]]) -> CheckOutcome:
    return await make()


def error_label() -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setStyleSheet(f"color: {theme.RED};")
    label.hide()
    return label


def verdict_label() -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.hide()
    return label


def set_verdict(label: QLabel, ok: bool | None, headline: str, details: list[str]) -> None:
    if ok is None:
        mark, colour = "…", theme.GREY
    else:
        mark, colour = ("✓", theme.GREEN) if ok else ("✗", theme.RED)
    lines = "".join(f"<br>• {escape(d)}" for d in details)
    label.setText(
        f"<span style='color:{colour}; font-weight:600'>{mark} {escape(headline)}</span>{lines}"
    )
    label.show()


def stack(*items: QWidget | QHBoxLayout) -> QVBoxLayout:
    box = QVBoxLayout()
    box.setSpacing(4)
    for item in items:
        if isinstance(item, QWidget):
            box.addWidget(item)
        else:
            box.addLayout(item)
    return box
