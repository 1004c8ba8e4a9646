"""Which variables count as credentials (never handed to a browser)."""

from __future__ import annotations

import pytest

from app.engine.child_env import browser_environment, is_credential


@pytest.mark.parametrize(
    "name",
    [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "PGPASSWORD",
        "PAIRDESK_WEBHOOK_SECRET",
        "CREDENTIALS_DIRECTORY",
        "GITHUB_TOKEN",
        "STRIPE_API_KEY",
        "DATABASE_URL",
        "SSH_AUTH_SOCK",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "my_db_password",
    ],
)
def test_credentials_are_recognised(name: str) -> None:
    assert is_credential(name)


@pytest.mark.parametrize(
    "name",
    [
        "PATH",
        "HOME",
        "DISPLAY",
        "LANG",
        "TZ",
        "XDG_RUNTIME_DIR",
        "PLAYWRIGHT_NODEJS_PATH",
        "TMPDIR",
    ],
)
def test_what_a_browser_needs_stays(name: str) -> None:
    assert not is_credential(name)


def test_browser_environment_keeps_only_the_rest() -> None:
    env = {"PATH": "/bin", "AWS_SECRET_ACCESS_KEY": "x", "HOME": "/h", "PGPASSWORD": "y"}
    assert browser_environment(env) == {"PATH": "/bin", "HOME": "/h"}
