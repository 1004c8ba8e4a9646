"""Which part of a saved login the page restores itself (`plan_restore`)."""

from __future__ import annotations

import json

import pytest

from app.engine.browser.storage_restore import (
    IN_PAGE_LIMIT,
    MARK,
    RESTORE_JS,
    origin_of,
    plan_restore,
)

URL = "https://web.whatsapp.com/"
COOKIES = [{"name": "wa_lang", "value": "en", "domain": "web.whatsapp.com", "path": "/"}]
DB = {"name": "keys", "version": 1, "stores": []}


def _origin(origin: str = "https://web.whatsapp.com", **parts: object) -> dict[str, object]:
    return {"origin": origin, "localStorage": [], **parts}


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://web.whatsapp.com/", "https://web.whatsapp.com"),
        ("HTTPS://Web.WhatsApp.com:443/path?q=1", "https://web.whatsapp.com"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
        ("http://localhost:80/", "http://localhost"),
        ("http://[::1]:9000/", "http://[::1]:9000"),
    ],
)
def test_origin_of_is_what_the_page_calls_its_origin(url: str, origin: str) -> None:
    assert origin_of(url) == origin


def test_no_saved_login_is_left_as_it_is() -> None:
    assert plan_restore(None, URL).context_state is None
    assert plan_restore(None, URL).page_script is None


def test_storage_of_the_login_page_is_written_by_the_page_and_cookies_by_the_context() -> None:
    origin = _origin(localStorage=[{"name": "k", "value": "v"}], indexedDB=[DB])
    plan = plan_restore({"cookies": COOKIES, "origins": [origin]}, URL)
    assert plan.context_state == {"cookies": COOKIES, "origins": []}
    assert plan.page_script is not None
    assert plan.page_script.startswith(f"({RESTORE_JS})(")
    arguments = plan.page_script.removeprefix(f"({RESTORE_JS})(").removesuffix(")")
    assert json.loads(f"[{arguments}]") == ["https://web.whatsapp.com", origin, MARK]


def test_empty_origins_need_no_script() -> None:
    plan = plan_restore({"cookies": COOKIES, "origins": [_origin(indexedDB=[])]}, URL)
    assert plan == type(plan)({"cookies": COOKIES, "origins": []}, None)


@pytest.mark.parametrize(
    "origins",
    [
        [_origin("https://static.whatsapp.net", localStorage=[{"name": "k", "value": "v"}])],
        [_origin(indexedDB=[DB]), _origin("https://other.example", indexedDB=[DB])],
        [_origin(indexedDB=[DB], opfs=[{"path": "f", "type": "file", "base64": ""}])],
        [_origin(localStorage=[{"name": "big", "value": "x" * IN_PAGE_LIMIT}])],
    ],
    ids=["another origin", "two origins", "a file system snapshot", "a big snapshot"],
)
def test_anything_else_is_left_to_playwright(origins: list[dict[str, object]]) -> None:
    state = {"cookies": COOKIES, "origins": origins}
    assert plan_restore(state, URL) == type(plan_restore(state, URL))(state, None)
