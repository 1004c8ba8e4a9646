"""An account's proxy: parsed once, never shown with its password; and the CSV column."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from app.domain.import_rows import parse_text
from app.domain.proxy import InvalidProxy, Proxy, parse_proxy

SECRET = "p@ss:w/rd"


def test_a_proxy_with_credentials_keeps_them_but_never_shows_the_password() -> None:
    proxy = parse_proxy("http://alice:p%40ss%3Aw%2Frd@proxy.example.com:3128")
    assert proxy == Proxy("http", "proxy.example.com", 3128, "alice", SECRET)
    assert proxy.server == "http://proxy.example.com:3128"
    assert proxy.display == "http://alice@proxy.example.com:3128" == str(proxy)
    assert SECRET not in repr(proxy) and "p%40ss" not in repr(proxy)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://proxy.example.com", Proxy("https", "proxy.example.com", 443)),
        ("socks5://10.0.0.2:1080", Proxy("socks5", "10.0.0.2", 1080)),
        ("SOCKS5H://gw:9050", Proxy("socks5", "gw", 9050)),
        ("http://[::1]:8080/", Proxy("http", "::1", 8080)),
    ],
)
def test_schemes_and_defaults(text: str, expected: Proxy) -> None:
    assert parse_proxy(text) == expected
    assert parse_proxy(expected.display) == expected


def test_an_unencoded_password_gets_a_hint() -> None:
    with pytest.raises(InvalidProxy, match="percent-encode"):
        parse_proxy("http://alice:a/b@h:1")


def test_the_stored_password_is_put_back() -> None:
    shown = parse_proxy("http://alice:x@h:1").display
    assert parse_proxy(shown, password="x") == parse_proxy("http://alice:x@h:1")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("proxy.example.com:3128", "no scheme"),
        ("ftp://h:21", "not supported"),
        ("http://:3128", "no host"),
        ("http://h:99999", "port"),
        ("http://h:1/path", "only scheme"),
        ("socks5://bob:pw@h:1080", "SOCKS5"),
        ("http://:pw@h:1", "user name"),
        ("", "empty"),
        (42, "expected a URL"),
    ],
)
def test_bad_proxies_say_why_without_the_password(text: object, needle: str) -> None:
    with pytest.raises(InvalidProxy, match=needle) as error:
        parse_proxy(text)
    assert "pw" not in str(error.value).replace("password", "")


def test_the_csv_proxy_column() -> None:
    rows = parse_text(
        "workspace_id,label,phone,proxy\n"
        f"7,Shop,+6281234567890,http://alice:{quote(SECRET, safe='')}@p.example.com:3128\n"
        "7,Other,,ftp://nope\n"
        "8,Plain,,\n"
    )
    good, bad, plain = rows
    assert good.ok and good.spec is not None and good.spec.proxy is not None
    assert good.spec.proxy.password == SECRET
    assert good.proxy == "http://alice@p.example.com:3128"
    assert SECRET not in repr(good)
    assert not bad.ok and "row 3" in bad.error and "not supported" in bad.error
    assert plain.ok and plain.spec is not None and plain.spec.proxy is None
