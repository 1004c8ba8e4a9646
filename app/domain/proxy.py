"""An account's proxy: parsed once, shown without its password everywhere.

A proxy is given as one URL (`http://user:pass@host:port`, `https://...`,
`socks5://host:port`), in the instance API, a CSV column or the console.
`parse_proxy` checks it and returns a `Proxy`, whose `repr` and `display`
never contain the password: the display form is what the grid, the API's
JSON, logs and the diagnostics bundle show. Only the instance that opens the
session's browser context reads the password (from the store).

Chromium cannot authenticate to a SOCKS5 proxy, so a `socks5://` URL with a
user name is refused here with a message that says so, rather than accepted
and failing later inside the browser.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit

__all__ = ["InvalidProxy", "PROXY_SCHEMES", "Proxy", "parse_proxy"]

PROXY_SCHEMES = ("http", "https", "socks5")
MAX_PROXY_LENGTH = 500
_EXAMPLE = "http://user:password@proxy.example.com:3128"
_ENCODE_HINT = "; percent-encode : / @ # in the user name or password (e.g. @ as %40)"
_DEFAULT_PORTS = {"http": 80, "https": 443, "socks5": 1080}


class InvalidProxy(ValueError):
    """The proxy URL cannot be used; the message says why and shows the expected form.

    The message never repeats the password that was typed."""


@dataclass(frozen=True)
class Proxy:
    """One proxy server and its credentials (`password` is never shown)."""

    scheme: str
    host: str
    port: int
    username: str = ""
    password: str = field(default="", repr=False)

    @property
    def server(self) -> str:
        """`scheme://host:port`, without credentials (what Chromium is given)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def display(self) -> str:
        """`scheme://user@host:port`: safe to show, log and store in plain view."""
        if not self.username:
            return self.server
        user = quote(self.username, safe="")
        return self.server.replace("://", f"://{user}@", 1)

    def __str__(self) -> str:
        return self.display


def parse_proxy(text: object, *, password: str | None = None) -> Proxy:
    """A `Proxy` from its URL. `password`, when given, replaces the URL's own (the store
    keeps the display URL and the password apart)."""
    if not isinstance(text, str):
        raise InvalidProxy(f"proxy: expected a URL such as {_EXAMPLE}")
    value = text.strip()
    if not value:
        raise InvalidProxy("proxy: empty; leave the field out for no proxy")
    if len(value) > MAX_PROXY_LENGTH:
        raise InvalidProxy(f"proxy: longer than {MAX_PROXY_LENGTH} characters")
    if "://" not in value:
        raise InvalidProxy(
            f"proxy: no scheme; start it with {', '.join(s + '://' for s in PROXY_SCHEMES)} "
            f"(e.g. {_EXAMPLE})"
        )
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        hint = _ENCODE_HINT if "@" in value else ""
        raise InvalidProxy(
            f"proxy: the port is not a number from 1 to 65535 ({_EXAMPLE}){hint}"
        ) from None
    scheme = parts.scheme.lower()
    if scheme == "socks5h":
        scheme = "socks5"
    if scheme not in PROXY_SCHEMES:
        raise InvalidProxy(
            f"proxy: scheme {scheme!r} is not supported; use "
            f"{', '.join(s + '://' for s in PROXY_SCHEMES)}"
        )
    host = parts.hostname or ""
    if not host or any(ch.isspace() for ch in host):
        raise InvalidProxy(f"proxy: no host name ({_EXAMPLE})")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        hint = _ENCODE_HINT if "@" in parts.path + parts.query + parts.fragment else ""
        raise InvalidProxy(
            f"proxy: only scheme, credentials, host and port belong in it ({_EXAMPLE}){hint}"
        )
    username = unquote(parts.username or "")
    secret = unquote(parts.password or "") if password is None else password
    if scheme == "socks5" and (username or secret):
        raise InvalidProxy(
            "proxy: Chromium cannot log in to a SOCKS5 proxy; use an http:// or https:// "
            "proxy for credentials, or a SOCKS5 proxy that lets this machine in without them"
        )
    if secret and not username:
        raise InvalidProxy("proxy: a password needs a user name (user:password@host)")
    return Proxy(
        scheme=scheme,
        host=host,
        port=port if port is not None else _DEFAULT_PORTS[scheme],
        username=username,
        password=secret,
    )
