"""The sandbox's passkeys: one P-256 credential per test phone, and the check of the
WebAuthn assertion a page sends back.

Some accounts must now confirm a new linked device with a passkey: the login
page calls `navigator.credentials.get` and the customer confirms on their
phone (the browser's "use a phone" hybrid flow). In the sandbox the phone's
passkey is a key pair made here; `GET /phone/passkey` hands the credential to
whoever plays the phone (a test loads it into Chromium's virtual
authenticator, which then answers the page's request as the phone would).
The server accepts the link only for an assertion that is signed by that key
over its own challenge, for the page's origin: nothing else can finish it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

__all__ = ["PasskeyError", "PhonePasskey", "b64url", "check_assertion", "new_challenge"]

_USER_PRESENT = 0x01


class PasskeyError(ValueError):
    """The assertion does not prove the phone's passkey; the message says why."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: object, what: str) -> bytes:
    if not isinstance(text, str) or len(text) > 8192:
        raise PasskeyError(f"{what}: expected base64url text")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        raise PasskeyError(f"{what}: not base64url") from None


def new_challenge() -> str:
    return b64url(secrets.token_bytes(32))


@dataclass(frozen=True)
class PhonePasskey:
    """A test phone's passkey: its credential id, key pair and user handle."""

    phone: str
    credential_id: str  # base64url
    private_key: ec.EllipticCurvePrivateKey
    user_handle: str  # base64url

    @classmethod
    def create(cls, phone: str) -> PhonePasskey:
        return cls(
            phone=phone,
            credential_id=b64url(secrets.token_bytes(16)),
            private_key=ec.generate_private_key(ec.SECP256R1()),
            user_handle=b64url(phone.encode()),
        )

    def exported(self) -> dict[str, Any]:
        """What the phone holds (`GET /phone/passkey`): enough for a virtual authenticator
        (Chromium's `WebAuthn.addCredential` takes the PKCS#8 key as base64)."""
        der = self.private_key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return {
            "phone": self.phone,
            "credential_id": self.credential_id,
            "private_key": base64.b64encode(der).decode("ascii"),
            "user_handle": self.user_handle,
            "algorithm": "ES256",
        }


def check_assertion(passkey: PhonePasskey, challenge: str, assertion: Any) -> str:
    """Verify a page's `{id, client_data, authenticator_data, signature}` (base64url) for
    `challenge`; returns the origin it was made for. `PasskeyError` when it fails."""
    if not isinstance(assertion, dict):
        raise PasskeyError("expected an object with id, client_data, authenticator_data, signature")
    if assertion.get("id") != passkey.credential_id:
        raise PasskeyError("this passkey is not the one registered for the phone")
    client_raw = _unb64url(assertion.get("client_data"), "client_data")
    auth_data = _unb64url(assertion.get("authenticator_data"), "authenticator_data")
    signature = _unb64url(assertion.get("signature"), "signature")
    try:
        client = json.loads(client_raw)
    except ValueError:
        raise PasskeyError("client_data is not JSON") from None
    if not isinstance(client, dict) or client.get("type") != "webauthn.get":
        raise PasskeyError("client_data is not a webauthn.get assertion")
    if client.get("challenge") != challenge:
        raise PasskeyError("the assertion answers another challenge (an old or foreign one)")
    origin = client.get("origin")
    host = urlsplit(origin).hostname if isinstance(origin, str) else None
    if not host:
        raise PasskeyError("client_data names no origin")
    if len(auth_data) < 37 or auth_data[:32] != hashlib.sha256(host.encode()).digest():
        raise PasskeyError(f"the assertion is not for this site ({host})")
    if not auth_data[32] & _USER_PRESENT:
        raise PasskeyError("the phone's owner did not confirm (user presence flag missing)")
    signed = auth_data + hashlib.sha256(client_raw).digest()
    try:
        passkey.private_key.public_key().verify(signature, signed, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise PasskeyError("the signature does not match the phone's passkey") from None
    return str(origin)
