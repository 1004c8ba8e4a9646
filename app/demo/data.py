"""Canned data for `DemoEngine`: business names, outbox rows, log lines, doctor results.

All of it is invented for demos and screenshots.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from app.domain.events import utcnow
from app.domain.outbox import OutboxItem, OutboxState
from app.engine.api import DoctorCheck

LABELS = (
    "Toko Maju",
    "Klinik Sehat",
    "Kopi Kita",
    "Bengkel Jaya",
    "Apotek Sentosa",
    "Laundry Bersih",
    "Warung Bu Sri",
    "Salon Cantik",
    "Optik Terang",
    "Roti Enak",
    "Travel Nusantara",
    "Sekolah Pelita",
    "Bimbel Pintar",
    "Catering Lezat",
    "Toko Buku Ilmu",
    "Hotel Melati",
    "Rental Mobil Aman",
    "Dental Care",
    "Pet Shop Ceria",
    "Kedai Teh",
    "Florist Wangi",
    "Gym Kuat",
    "Percetakan Kilat",
    "Service AC Dingin",
)


def demo_outbox() -> list[OutboxItem]:
    now = utcnow()
    rows = []
    for n, (name, state, status, error) in enumerate(
        [
            ("session_ready", OutboxState.PENDING, None, ""),
            ("qr_code_generated", OutboxState.PENDING, None, ""),
            (
                "session_disconnected",
                OutboxState.DEAD,
                422,
                '{"message":"The workspace id field must exist.","workspace_id":[404]}',
            ),
            ("session_ready", OutboxState.DEAD, 401, '{"message":"Invalid signature."}'),
        ]
    ):
        rows.append(
            OutboxItem(
                id=n + 1,
                event_id=uuid.UUID(int=0x1000 + n),
                session_id=f"webjs_{412 + n}_1732700{n}00_a1b2c3d{n}",
                name=name,
                payload={"event": name},
                created_at=now - timedelta(minutes=3 * n + 1),
                attempts=0 if state is OutboxState.PENDING else 8,
                next_attempt_at=now + timedelta(seconds=5),
                state=state,
                last_error=error,
                last_status=status,
                last_attempt_at=now - timedelta(minutes=n),
            )
        )
    return rows


def demo_log(instance_id: str, lines: int) -> list[str]:
    now = utcnow()
    msgs = [
        "INFO instance started, Chromium 131.0 headless, isolation=context",
        "INFO warm pool: 2 pages booted in 0.41 s",
        "INFO session webjs_412_1732700000_a1b2c3d4 connected (restored, no QR)",
        "WARNING session webjs_218_1732703065_0f3e2a91 disconnected: browser_crash, retry 1/5",
        "INFO session webjs_218_1732703065_0f3e2a91 connected (restored, no QR)",
        "INFO snapshot written for 14 sessions in 0.22 s",
    ]
    out = []
    for k in range(min(lines, 40)):
        at = now - timedelta(seconds=(40 - k) * 17)
        out.append(f"{at.astimezone():%H:%M:%S} [{instance_id}] {msgs[k % len(msgs)]}")
    return out


def demo_doctor() -> list[DoctorCheck]:
    return [
        DoctorCheck("python", True, "Python 3.12.3"),
        DoctorCheck("chromium", True, "Playwright's own Chromium (131.0), launched in 0.8 s"),
        DoctorCheck("sessions folder", True, "./sessions writable, 48 GiB free"),
        DoctorCheck("database", True, "SQLite WAL at ~/.local/share/pairdesk/pairdesk.db"),
        DoctorCheck(
            "central API",
            False,
            "reachable, but the signature was refused (HTTP 401)",
            "Set webhook_secret to the platform's WEBJS_WEBHOOK_SECRET and restart.",
        ),
    ]
