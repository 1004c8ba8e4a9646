"""The diagnostics bundle, without the console: what a support ticket gets, and no secret."""

from __future__ import annotations

import zipfile

from app.config import Settings
from app.demo.data import demo_doctor, demo_outbox
from app.domain.models import SessionInfo
from app.domain.states import SessionState
from app.operator.bundle import write_bundle


def test_the_bundle_has_the_diagnostics_and_no_secret_qr_or_phone(tmp_path) -> None:
    settings = Settings.load(environ={}, cwd=tmp_path).with_overrides(
        webhook_secret="SUPER-SECRET-VALUE", instance_token="SECRET-TOKEN-123"
    )
    session = SessionInfo(
        session_id="webjs_7_1_abcdefgh",
        workspace_id=7,
        state=SessionState.QR,
        qr="2@QRSECRETREFxxxxxxxxxxxxxxxxxxxxx,k,k",
        phone_number="6281122334410",
    )
    path = write_bundle(
        tmp_path / "bundle.zip",
        settings=settings,
        sessions=[session],
        outbox=demo_outbox(),
        logs={"i-1": ["token=SECRET-TOKEN-123 started", "ref 2@QRSECRETREFxxxxxxxxxxxxxxxxxxxxxx"]},
        doctor=demo_doctor(),
    )
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        blob = b"".join(zf.read(name) for name in names)
    assert {"README.txt", "sessions.json", "outbox.json", "doctor.json", "logs/i-1.log"} <= names
    assert b"webjs_7_1_abcdefgh" in blob and b"central API" in blob
    for secret in (b"SUPER-SECRET-VALUE", b"SECRET-TOKEN-123", b"QRSECRETREF", b"6281122334410"):
        assert secret not in blob
