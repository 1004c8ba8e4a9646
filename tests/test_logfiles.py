"""Log files: rotating, one per process under data_dir/logs/, secrets redacted, 0600."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

from app.config import Settings
from app.logfiles import Redactor, log_path, open_log, tail


def test_log_file_redacts_secrets_and_url_passwords(tmp_path: Path) -> None:
    settings = Settings.load(environ={}, cwd=tmp_path).with_overrides(
        data_dir=str(tmp_path / "data"), webhook_secret="WEBHOOK-SECRET-1", instance_token="TOK-42x"
    )
    logger = logging.getLogger("test-logfiles")
    logger.propagate = False
    path = open_log(settings, "console", root=logger)
    try:
        assert path == log_path(settings, "console") == tmp_path / "data" / "logs" / "console.log"
        logger.warning("posting with %s", "WEBHOOK-SECRET-1")
        logger.warning("instance token TOK-42x, proxy http://bob:hunter2@proxy:8080/")
    finally:
        for handler in list(logger.handlers):
            handler.close()
            logger.removeHandler(handler)
    text = path.read_text()
    assert "WEBHOOK-SECRET-1" not in text and "TOK-42x" not in text and "hunter2" not in text
    assert "posting with ***" in text and "http://bob:***@proxy:8080/" in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert tail(path, 1) == [text.splitlines()[-1]]


def test_tail_of_a_missing_log_is_empty(tmp_path: Path) -> None:
    assert tail(tmp_path / "none.log") == []


def test_redactor_leaves_plain_text_alone() -> None:
    assert Redactor(["abcd"]).redact("nothing secret here") == "nothing secret here"


def test_urls_in_log_lines_lose_their_credentials() -> None:
    redactor = Redactor([])
    line = "posting to https://svc:pw123@central.example/api?token=abc and sqlite:////tmp/x.db"
    shown = redactor.redact(line)
    assert "pw123" not in shown and "abc" not in shown
    assert "https://svc:***@central.example/api?token=***" in shown
    assert "sqlite:////tmp/x.db" in shown
