"""The one client of the simulator's test phone, oracle and faults, and a QR reader.

`TestPhone` (blocking) and `AsyncTestPhone` wrap the JSON endpoints so the
console's "Scan with test phone", `pairdesk onboard --phone-scan-sandbox`,
the bench and tests do not spell URLs. Errors come back as `PhoneError` with
the server's status and message; a simulator that does not answer at all
raises `PhoneUnreachable` (status 0). `read_qr` decodes QR codes from an
image (PNG bytes or a PIL image), as a phone camera would.

Public (not `_phone`) because the console imports it directly: the one
exception to "the console never imports the sandbox" (see pyproject.toml).
It needs nothing but httpx.
"""

from __future__ import annotations

import io
from typing import Any

import httpx

_TIMEOUT = httpx.Timeout(10.0)
_Body = dict[str, Any] | None


class PhoneError(RuntimeError):
    """The simulator refused a request; `status` is the HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class PhoneUnreachable(PhoneError):
    """No answer at all (status 0): the simulator is not running, or `url` is wrong."""

    def __init__(self, url: str, cause: httpx.HTTPError) -> None:
        super().__init__(0, f"the sandbox test phone is not reachable at {url} ({cause})")
        self.url = url

    def __str__(self) -> str:
        return self.message


def _unreachable(base_url: httpx.URL, path: str, cause: httpx.HTTPError) -> PhoneUnreachable:
    return PhoneUnreachable(str(base_url.join(path)), cause)


def _result(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        data = {"error": response.text}
    if response.is_error:
        message = data.get("error", response.text) if isinstance(data, dict) else response.text
        raise PhoneError(response.status_code, str(message))
    return data if isinstance(data, dict) else {"result": data}


def _scan_body(qr: str, phone: str) -> dict[str, Any]:
    return {"qr": qr, "phone": phone}


def _pair_body(code: str, phone: str) -> dict[str, Any]:
    return {"code": code, "phone": phone}


def _logout_body(phone: str, device_id: int | None) -> dict[str, Any]:
    body: dict[str, Any] = {"phone": phone}
    if device_id is not None:
        body["device_id"] = device_id
    return body


class TestPhone:
    """Blocking client: `TestPhone(sandbox.url).scan(qr, "6281234567890")`."""

    __test__ = False  # not a pytest test class

    def __init__(self, base_url: str, *, transport: httpx.BaseTransport | None = None) -> None:
        self._client = httpx.Client(base_url=base_url, timeout=_TIMEOUT, transport=transport)

    def _call(self, method: str, path: str, body: _Body = None) -> dict[str, Any]:
        try:
            response = self._client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise _unreachable(self._client.base_url, path, exc) from exc
        return _result(response)

    def scan(self, qr: str, phone: str) -> dict[str, Any]:
        return self._call("POST", "phone/scan", _scan_body(qr, phone))

    def pair(self, code: str, phone: str) -> dict[str, Any]:
        return self._call("POST", "phone/pair", _pair_body(code, phone))

    def logout(self, phone: str, device_id: int | None = None) -> dict[str, Any]:
        return self._call("POST", "phone/logout", _logout_body(phone, device_id))

    def passkey(self, phone: str) -> dict[str, Any]:
        """The phone's passkey credential (for a virtual authenticator playing the phone)."""
        return self._call("GET", f"phone/passkey?phone={phone}")

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "sandbox/stats")

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        return self._call("POST", "sandbox/faults", faults)

    def reset_faults(self) -> dict[str, Any]:
        return self._call("DELETE", "sandbox/faults")

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> TestPhone:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncTestPhone:
    """The same as `TestPhone` for async code."""

    def __init__(self, base_url: str, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._client = httpx.AsyncClient(base_url=base_url, timeout=_TIMEOUT, transport=transport)

    async def _call(self, method: str, path: str, body: _Body = None) -> dict[str, Any]:
        try:
            response = await self._client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise _unreachable(self._client.base_url, path, exc) from exc
        return _result(response)

    async def scan(self, qr: str, phone: str) -> dict[str, Any]:
        return await self._call("POST", "phone/scan", _scan_body(qr, phone))

    async def pair(self, code: str, phone: str) -> dict[str, Any]:
        return await self._call("POST", "phone/pair", _pair_body(code, phone))

    async def logout(self, phone: str, device_id: int | None = None) -> dict[str, Any]:
        return await self._call("POST", "phone/logout", _logout_body(phone, device_id))

    async def passkey(self, phone: str) -> dict[str, Any]:
        """The phone's passkey credential (for a virtual authenticator playing the phone)."""
        return await self._call("GET", f"phone/passkey?phone={phone}")

    async def stats(self) -> dict[str, Any]:
        return await self._call("GET", "sandbox/stats")

    async def set_faults(self, **faults: Any) -> dict[str, Any]:
        return await self._call("POST", "sandbox/faults", faults)

    async def reset_faults(self) -> dict[str, Any]:
        return await self._call("DELETE", "sandbox/faults")

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> AsyncTestPhone:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def read_qr(image: bytes | Any) -> list[str]:
    """The texts of the QR codes in `image` (PNG/JPEG bytes or a PIL image)."""
    import zxingcpp
    from PIL import Image

    picture = Image.open(io.BytesIO(image)) if isinstance(image, bytes | bytearray) else image
    qr_only = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
    found = zxingcpp.read_barcodes(picture.convert("L"), formats=qr_only)
    return [code.text for code in found]
