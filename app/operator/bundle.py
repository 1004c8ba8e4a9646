"""The diagnostics bundle: a zip an operator can attach to a support ticket.

It holds redacted settings, per-state counts, the session list (ids, states,
reasons, instances — no QR strings, no phone numbers, no login state), the
outbox without payloads, instance logs and doctor results. The zip is
written owner-only (0600): session ids and error texts are still personal. Every text is
passed through `scrub`, which removes the configured secrets and anything
that looks like a QR ref, as a second line of defence.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from app.config import Settings
from app.domain.models import SessionInfo
from app.domain.outbox import OutboxItem

_QR_LIKE = re.compile(r"\b\d@[A-Za-z0-9+/=,]{20,}")


def scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "(secret)")
    return _QR_LIKE.sub("(qr)", text)


def _secrets(settings: Settings) -> list[str]:
    values = [settings.webhook_secret, settings.instance_token]
    try:
        values.append(settings.resolved_webhook_secret())
    except Exception:  # an unreadable secret file is simply not included
        pass
    return [v for v in values if v]


def _private(path: Path) -> BinaryIO:
    """`path` opened for writing as owner-only (0600), whatever the umask or an older file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_CREAT
    return os.fdopen(fd, "wb")


def write_bundle(
    path: Path,
    *,
    settings: Settings,
    sessions: Sequence[SessionInfo],
    outbox: Sequence[OutboxItem] = (),
    logs: Mapping[str, Sequence[str]] | None = None,
    doctor: Sequence[Any] = (),
    created: datetime | None = None,
) -> Path:
    """Write the zip to `path` and return it."""
    secrets = _secrets(settings)

    def dump(obj: Any) -> str:
        return scrub(json.dumps(obj, indent=2, default=str), secrets)

    counts: dict[str, int] = {}
    for s in sessions:
        counts[s.state.value] = counts.get(s.state.value, 0) + 1
    session_rows = [
        {
            "session_id": s.session_id,
            "workspace_id": s.workspace_id,
            "state": s.state.value,
            "reason": str(s.reason or ""),
            "instance_id": s.instance_id,
            "restarts": s.restarts,
            "qr_count": s.qr_count,
            "memory_bytes": s.memory_bytes,
            "connected_at": s.connected_at,
            "last_heartbeat_at": s.last_heartbeat_at,
        }
        for s in sessions
    ]
    outbox_rows = [
        {
            "id": o.id,
            "event_id": str(o.event_id),
            "session_id": o.session_id,
            "name": o.name,
            "state": str(o.state),
            "attempts": o.attempts,
            "last_status": o.last_status,
            "last_error": o.last_error,
            "created_at": o.created_at,
        }
        for o in outbox
    ]
    checks = [
        {"name": c.name, "ok": c.ok, "detail": c.detail, "advice": getattr(c, "advice", "")}
        for c in doctor
    ]
    with _private(path) as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(
            "README.txt",
            "pairdesk diagnostics bundle. No secrets, QR codes, phone numbers or login "
            f"state are included. Created {(created or datetime.now()).isoformat()}.\n",
        )
        zf.writestr("settings.json", dump(settings.redacted()))
        zf.writestr("state_counts.json", dump(counts))
        zf.writestr("sessions.json", dump(session_rows))
        zf.writestr("outbox.json", dump(outbox_rows))
        zf.writestr("doctor.json", dump(checks))
        for instance_id, lines in (logs or {}).items():
            zf.writestr(f"logs/{instance_id}.log", scrub("\n".join(lines), secrets) + "\n")
    return path
