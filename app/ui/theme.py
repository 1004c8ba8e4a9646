"""Colours, fonts and palettes: light and dark, following the system.

The state colours are chosen to stay distinguishable for common colour-vision
deficiencies, and every use pairs them with text (see `app.operator.text.STATE_LABELS`).
QR codes are always black on white, whatever the theme.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from app.domain.states import SessionState

STATE_COLORS: dict[SessionState, str] = {
    SessionState.STOPPED: "#6b7280",
    SessionState.STARTING: "#64748b",
    SessionState.QR: "#2563eb",
    SessionState.QR_IDLE: "#0891b2",
    SessionState.PAIRING: "#7c3aed",
    SessionState.PASSKEY_REQUIRED: "#b45309",  # amber: the operator (and the customer) must act
    SessionState.CONNECTED: "#15803d",
    SessionState.DISCONNECTED: "#c2410c",
    SessionState.LOGGED_OUT: "#a21caf",
    SessionState.FAILED: "#dc2626",
}

AMBER = "#d97706"
RED = "#dc2626"
GREEN = "#15803d"
BLUE = "#2563eb"
GREY = "#9ca3af"


def state_color(state: SessionState) -> QColor:
    return QColor(STATE_COLORS.get(state, "#6b7280"))


def is_dark() -> bool:
    """True when the application palette is dark (set by `apply`)."""
    app = QGuiApplication.instance()
    if app is None:
        return False
    window = QGuiApplication.palette().color(QPalette.ColorRole.Window)
    return window.lightness() < 128


def system_prefers_dark() -> bool:
    hints = QGuiApplication.styleHints()
    return hints.colorScheme() == Qt.ColorScheme.Dark


def _palette(dark: bool) -> QPalette:
    p = QPalette()
    if dark:
        base, window, text, alt = "#1e2127", "#16181d", "#e6e8eb", "#23272e"
        button, mid, highlight = "#2a2f37", "#3a404a", "#3b82f6"
    else:
        base, window, text, alt = "#ffffff", "#f3f4f6", "#111827", "#f8fafc"
        button, mid, highlight = "#ffffff", "#d1d5db", "#2563eb"
    roles = QPalette.ColorRole
    p.setColor(roles.Window, QColor(window))
    p.setColor(roles.WindowText, QColor(text))
    p.setColor(roles.Base, QColor(base))
    p.setColor(roles.AlternateBase, QColor(alt))
    p.setColor(roles.Text, QColor(text))
    p.setColor(roles.Button, QColor(button))
    p.setColor(roles.ButtonText, QColor(text))
    p.setColor(roles.Mid, QColor(mid))
    p.setColor(roles.Midlight, QColor(mid))
    p.setColor(roles.Highlight, QColor(highlight))
    p.setColor(roles.HighlightedText, QColor("#ffffff"))
    p.setColor(roles.ToolTipBase, QColor(base))
    p.setColor(roles.ToolTipText, QColor(text))
    p.setColor(roles.PlaceholderText, QColor("#9ca3af" if dark else "#6b7280"))
    p.setColor(roles.Link, QColor(highlight))
    dim = QColor("#6b7280")
    for role in (roles.Text, roles.WindowText, roles.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, dim)
    return p


def stylesheet(dark: bool) -> str:
    """Application style sheet: only what the palette cannot express."""
    card = "#1e2127" if dark else "#ffffff"
    border = "#343a44" if dark else "#d9dde3"
    muted = "#9aa3ad" if dark else "#5b6472"
    nav_sel = "#263244" if dark else "#dbeafe"
    chip_on = "#1d4ed8" if dark else "#2563eb"
    return f"""
QWidget#Card, QFrame#Card {{ background: {card}; border: 1px solid {border};
    border-radius: 10px; }}
QLabel[muted="true"] {{ color: {muted}; }}
QLabel#Badge {{ background: {AMBER}; color: #111; border-radius: 6px; padding: 2px 8px;
    font-weight: 600; }}
QLabel#AppName {{ font-size: 16pt; font-weight: 700; }}
QListWidget#Nav {{ border: none; background: transparent; font-size: 11.5pt; }}
QListWidget#Nav::item {{ padding: 10px 12px; border-radius: 8px; margin: 2px 6px; }}
QListWidget#Nav::item:selected {{ background: {nav_sel}; color: palette(text); }}
QPushButton#Chip {{ border: 1px solid {border}; border-radius: 14px; padding: 4px 12px;
    background: {card}; }}
QPushButton#Chip:checked {{ background: {chip_on}; color: white; border-color: {chip_on}; }}
QPushButton#Primary {{ background: {chip_on}; color: white; border: none; border-radius: 6px;
    padding: 8px 18px; font-weight: 600; }}
QPushButton#Primary:disabled {{ background: {border}; color: {muted}; }}
QFrame#BulkBar {{ background: {nav_sel}; border-radius: 8px; }}
QToolButton#Sync {{ border: 1px solid {border}; border-radius: 12px; padding: 4px 10px; }}
QTableView {{ gridline-color: {border}; }}
QHeaderView::section {{ padding: 6px; font-weight: 600; border: none;
    border-bottom: 1px solid {border}; background: palette(window); }}
"""


def apply(app: QApplication, dark: bool | None = None) -> bool:
    """Apply Fusion, the palette and style sheet; None follows the system."""
    dark = system_prefers_dark() if dark is None else dark
    app.setStyle("Fusion")
    app.setPalette(_palette(dark))
    font = QFont(app.font())
    font.setPointSizeF(max(font.pointSizeF(), 10.5))
    app.setFont(font)
    app.setStyleSheet(stylesheet(dark))
    return dark


def state_color_for_text(word: str) -> QColor:
    """Colour for outbox/doctor words: ok/sent green, pending blue, dead/fail red."""
    return QColor({"ok": GREEN, "sent": GREEN, "pending": BLUE, "dead": RED}.get(word, GREY))
