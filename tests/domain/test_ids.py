"""Session ids, phone numbers and workspace ids: made right, checked with clear errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from app.domain.ids import (
    InvalidIdentifier,
    InvalidPhoneNumber,
    InvalidSessionId,
    InvalidWorkspaceId,
    SessionIdParts,
    is_platform_session_id,
    make_session_id,
    normalize_phone,
    parse_session_id,
    phone_from_wid,
    validate_session_id,
    validate_workspace_id,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_make_session_id_platform_form() -> None:
    sid = make_session_id(42, at=T0)
    ws, unix, token = sid.removeprefix("webjs_").split("_")
    assert (ws, int(unix)) == ("42", int(T0.timestamp()))
    assert len(token) == 8 and token.isalnum() and token == token.lower()
    assert parse_session_id(sid) == SessionIdParts(42, int(T0.timestamp()), token)
    assert make_session_id(42, at=T0, random_part="Ab3dEf9h").endswith("_Ab3dEf9h")
    assert len({make_session_id(42, at=T0) for _ in range(200)}) == 200


@pytest.mark.parametrize("token", ["short", "toolong123", "abc-defg", "ääääääää"])
def test_make_session_id_bad_random_part(token: str) -> None:
    with pytest.raises(InvalidSessionId, match="8 letters or digits"):
        make_session_id(1, at=T0, random_part=token)


@given(st.integers(min_value=1, max_value=2**63 - 1), st.datetimes(timezones=st.just(UTC)))
@example(1, datetime(1969, 12, 31, 23, 59, 59, 1, tzinfo=UTC))  # the last second of 1969
@example(1, datetime(1970, 1, 1, tzinfo=UTC))  # the epoch itself is a valid time
def test_made_ids_always_valid(workspace: int, at: datetime) -> None:
    if at.timestamp() < 0:
        with pytest.raises(InvalidSessionId):
            make_session_id(workspace, at=at)
        return
    sid = make_session_id(workspace, at=at)
    assert is_platform_session_id(sid)
    assert validate_session_id(sid, workspace_id=workspace) == sid
    assert parse_session_id(sid).workspace_id == workspace


@pytest.mark.parametrize(
    "sid", ["webjs_1_1700000000_abcdefgh", "acct-42", "session.v2", "A_b-c.d", "x" * 128]
)
def test_accepted_session_ids(sid: str) -> None:
    assert validate_session_id(sid) == sid


@pytest.mark.parametrize(
    ("sid", "text"),
    [
        ("", "non-empty"),
        ("x" * 129, "at most 128"),
        ("../x", "letters, digits"),
        ("a..b", "'..'"),
        ("has space", "letters, digits"),
        ("_leading", "start with a letter"),
        ("a/b", "letters, digits"),
        ("webjs_1_2_short", "form webjs_"),
        ("webjs_0_1700000000_abcdefgh", "form webjs_"),
    ],
)
def test_rejected_session_ids(sid: str, text: str) -> None:
    with pytest.raises(InvalidSessionId, match=text):
        validate_session_id(sid)


def test_session_id_workspace_mismatch() -> None:
    with pytest.raises(InvalidSessionId, match="belongs to workspace 1, not workspace 2"):
        validate_session_id("webjs_1_1700000000_abcdefgh", workspace_id=2)
    assert validate_session_id("custom-id", workspace_id=2) == "custom-id"
    with pytest.raises(InvalidSessionId):
        parse_session_id("custom-id")


@pytest.mark.parametrize(
    ("raw", "digits"),
    [
        ("+62 812-3456-7890", "6281234567890"),
        ("0062 812 3456 7890", "6281234567890"),
        ("+1 (415) 555-0100", "14155550100"),
        ("44.7700.900123", "447700900123"),
        ("6281234567890", "6281234567890"),
        (6281234567890, "6281234567890"),
        (6281234567890.0, "6281234567890"),
        ("  +6831234 ", "6831234"),
    ],
)
def test_normalize_phone(raw: object, digits: str) -> None:
    assert normalize_phone(raw) == digits


def test_national_numbers_need_a_country_code() -> None:
    with pytest.raises(InvalidPhoneNumber, match="national format.*country code"):
        normalize_phone("0812 3456 7890")
    assert normalize_phone("0812 3456 7890", default_country_code="+62") == "6281234567890"
    with pytest.raises(InvalidPhoneNumber, match="default country code"):
        normalize_phone("0812 3456 7890", default_country_code="x")


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("phone", "only digits"),
        ("+62 812 ext 5", "only digits"),
        ("+0812345678", "never starts with 0"),
        ("+123456", "6 digits"),
        ("+1234567890123456", "16 digits"),
        (True, "must be text"),
        (1.5, "must be text"),
        (None, "must be text"),
        ("٦٢٨١٢٣٤٥٦٧٨", "only digits"),
    ],
)
def test_bad_phone_numbers(raw: object, text: str) -> None:
    with pytest.raises(InvalidPhoneNumber, match=text):
        normalize_phone(raw)


@given(st.integers(min_value=10**6, max_value=10**15 - 1))
def test_phone_normalisation_is_idempotent(number: int) -> None:
    once = normalize_phone(f"+{number}")
    assert once == str(number) and normalize_phone(once) == once


def test_phone_from_wid() -> None:
    assert phone_from_wid("6281234567890@c.us") == "6281234567890"
    assert phone_from_wid("6281234567890:12@s.whatsapp.net") == "6281234567890"
    with pytest.raises(InvalidPhoneNumber, match="no phone number"):
        phone_from_wid("123456789012345@lid")


@pytest.mark.parametrize(("raw", "value"), [(7, 7), ("42", 42), (" 9 ", 9), (3.0, 3)])
def test_workspace_ids(raw: object, value: int) -> None:
    assert validate_workspace_id(raw) == value


@pytest.mark.parametrize("raw", [0, -1, True, 1.5, "", "abc", "4 2", None, 2**63, "٤٢"])
def test_bad_workspace_ids(raw: object) -> None:
    with pytest.raises(InvalidWorkspaceId, match="positive whole number"):
        validate_workspace_id(raw)


def test_all_errors_are_value_errors() -> None:
    for error in (InvalidPhoneNumber, InvalidSessionId, InvalidWorkspaceId):
        assert issubclass(error, InvalidIdentifier) and issubclass(error, ValueError)
