"""The README says what the program does: every settings key is in its table, every
command and action in its command list, and no help text uses internal jargon."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from app.cli import COMMANDS, build_parser
from app.config import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_the_config_table_lists_every_key() -> None:
    table = set(re.findall(r"^\| `(\w+)`(?: / `(\w+)`)?", README, re.MULTILINE))
    listed = {key for pair in table for key in pair if key}
    assert {f.name for f in dataclasses.fields(Settings)} - listed == set()


def test_every_command_and_sync_action_is_listed() -> None:
    for name in COMMANDS:
        assert re.search(rf"^pairdesk (\[{name}\]|{name}) ", README, re.MULTILINE), name
    line = next(x for x in README.splitlines() if x.startswith("pairdesk sync "))
    for action in ("status", "retry-dead", "test", "reconcile"):
        assert action in line


def test_the_sandbox_secret_is_documented() -> None:
    from app.config import SANDBOX_WEBHOOK_SECRET

    assert f"PAIRDESK_WEBHOOK_SECRET={SANDBOX_WEBHOOK_SECRET}" in README


@pytest.mark.parametrize("name", list(COMMANDS))
def test_help_has_no_internal_jargon(name: str) -> None:
    parser = build_parser(name)
    sub = next(a for a in parser._actions if a.dest == "command")
    text = sub.choices[name].format_help()  # type: ignore[attr-defined]
    assert not re.search(r"\bissue[- ]?\d|\bhelper [A-E]\b|\bTODO\b", text, re.IGNORECASE)
