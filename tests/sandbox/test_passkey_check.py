"""The sandbox's check of a WebAuthn assertion: only the phone's own passkey, signing
the server's own challenge for the page's own site, links the device."""

from __future__ import annotations

import hashlib
import json

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from app.sandbox._passkey import PasskeyError, PhonePasskey, b64url, check_assertion

CHALLENGE = b64url(b"c" * 32)


def _assertion(
    key: PhonePasskey,
    *,
    challenge: str = CHALLENGE,
    origin: str = "http://localhost:8080",
    rp: str = "localhost",
    flags: int = 0x05,
    signer: ec.EllipticCurvePrivateKey | None = None,
    kind: str = "webauthn.get",
) -> dict[str, str]:
    client = json.dumps({"type": kind, "challenge": challenge, "origin": origin}).encode()
    auth = hashlib.sha256(rp.encode()).digest() + bytes([flags]) + b"\0\0\0\1"
    signed = auth + hashlib.sha256(client).digest()
    signature = (signer or key.private_key).sign(signed, ec.ECDSA(hashes.SHA256()))
    return {
        "id": key.credential_id,
        "client_data": b64url(client),
        "authenticator_data": b64url(auth),
        "signature": b64url(signature),
    }


def test_the_phones_own_assertion_passes() -> None:
    key = PhonePasskey.create("6281234567890")
    assert check_assertion(key, CHALLENGE, _assertion(key)) == "http://localhost:8080"
    exported = key.exported()
    assert exported["credential_id"] == key.credential_id and exported["private_key"]


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"challenge": b64url(b"x" * 32)}, "another challenge"),
        ({"rp": "evil.example"}, "not for this site"),
        ({"flags": 0x04}, "did not confirm"),
        ({"signer": ec.generate_private_key(ec.SECP256R1())}, "signature"),
        ({"kind": "webauthn.create"}, "webauthn.get"),
    ],
)
def test_anything_else_is_refused(change: dict[str, object], needle: str) -> None:
    key = PhonePasskey.create("6281234567890")
    with pytest.raises(PasskeyError, match=needle):
        check_assertion(key, CHALLENGE, _assertion(key, **change))  # type: ignore[arg-type]


def test_another_credential_or_garbage_is_refused() -> None:
    key = PhonePasskey.create("6281234567890")
    other = PhonePasskey.create("6281234567890")
    with pytest.raises(PasskeyError, match="not the one"):
        check_assertion(key, CHALLENGE, _assertion(other))
    for junk in (None, "x", {"id": key.credential_id, "client_data": 5}):
        with pytest.raises(PasskeyError):
            check_assertion(key, CHALLENGE, junk)
