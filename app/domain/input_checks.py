"""Checks for input from outside that would otherwise crash a layer further in.

Each of these once answered 500 or left a traceback instead of naming the bad
field: a number that overflows SQLite's and PostgreSQL's 64-bit integers
(`account_id` 10^23), a JSON integer of 5000 digits (Python refuses to
convert more than 4300), JSON nested deeper than the parser's recursion
limit, and text PostgreSQL cannot store (NUL) or UTF-8 cannot encode (a lone
surrogate, which JSON's `\\ud800` escape produces).
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any

MAX_INT64 = 2**63 - 1
MAX_DIGITS = 19  # every 64-bit integer fits; longer digit runs are never an id


class HugeNumber:
    """A JSON integer too long to be any id; kept as a token so the field can be named."""

    def __init__(self, digits: int) -> None:
        self.digits = digits

    def __repr__(self) -> str:
        return f"a {self.digits}-digit number"


def _parse_int(text: str) -> int | HugeNumber:
    digits = len(text.lstrip("-"))
    return int(text) if digits <= MAX_DIGITS else HugeNumber(digits)


def loads_json(raw: bytes | str) -> Any:
    """`json.loads`, but huge integers become `HugeNumber` and every failure is a ValueError.

    The message of the ValueError says what is wrong with the body as a whole
    (not JSON, not UTF-8, nested too deeply), for a 422.
    """
    try:
        return json.loads(raw, parse_int=_parse_int)
    except RecursionError:
        raise ValueError("the JSON body is nested too deeply") from None
    except UnicodeDecodeError:
        raise ValueError("the body is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"the body is not valid JSON ({exc.msg} at position {exc.pos})") from None


def text_problem(value: str) -> str:
    """Why `value` cannot be stored as a name or label ("" when it can).

    NUL is refused by PostgreSQL; a lone surrogate cannot be encoded as UTF-8
    by any driver; other control characters break every table and CSV that
    shows them. Tab is the one control character allowed (sheets carry it).
    """
    for char in value:
        if char == "\x00":
            return "holds a NUL character"
        category = unicodedata.category(char)
        if category == "Cs":
            return f"holds an unpaired surrogate (U+{ord(char):04X}), which is not valid Unicode"
        if category == "Cc" and char != "\t":
            return f"holds the control character U+{ord(char):04X}"
    return ""


def whole_number_problem(value: object) -> str:
    """Why `value` is not a positive 64-bit whole number ("" when it is)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return f"must be a positive whole number, got {value!r}"[:120]
    if value < 1:
        return f"must be a positive whole number, got {value}"
    if value > MAX_INT64:
        return f"is too large (at most {MAX_INT64})"
    return ""
