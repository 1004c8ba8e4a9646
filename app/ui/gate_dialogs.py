"""The two questions the gates ask the operator: which phone a pairing code is for,
and which proxy an account should use. Both validate with the domain's own rules,
and neither ever shows a proxy's password."""

from __future__ import annotations

from PySide6.QtWidgets import QInputDialog, QWidget

from app.domain.ids import InvalidIdentifier, normalize_phone


def phone_input(parent: QWidget, name: str, current: str = "") -> str | None:
    """Ask which phone number a pairing code is for; E.164 digits, or None if cancelled.
    A number that is not valid is asked again, with what is wrong."""
    prompt = (
        f"Link {name} by phone number.\n\nThe customer's WhatsApp number, with its country "
        "code (e.g. +62 812 3456 7890):"
    )
    value = f"+{current}" if current else ""
    while True:
        value, ok = QInputDialog.getText(parent, "Pairing code", prompt, text=value)
        if not ok:
            return None
        try:
            return normalize_phone(value)
        except InvalidIdentifier as exc:
            prompt = f"That number cannot be used: {exc}.\n\nThe customer's WhatsApp number:"


def proxy_input(parent: QWidget, count: int, current: str = "") -> str | None:
    """Ask for a proxy URL for `count` account(s); '' removes it, None cancels. The
    current proxy is shown without its password (never filled in)."""
    now = f"Now: {current} (its password is not shown).\n\n" if current else ""
    value, ok = QInputDialog.getText(
        parent,
        "Account proxy",
        f"Proxy for {count} account(s): http://user:password@host:port, https://…, or "
        f"socks5://host:port. Leave it empty for no proxy.\n{now}Sessions use it from "
        "their next start.",
    )
    return value.strip() if ok else None
