"""Settings: defaults without any file, precedence, and clear errors for bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config import SANDBOX_WEBHOOK_SECRET, ConfigError, Settings


def load(tmp_path: Path, env: dict[str, str] | None = None, **kwargs: object) -> Settings:
    environ = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "cfg")} | (env or {})
    return Settings.load(environ=environ, cwd=tmp_path, **kwargs)  # type: ignore[arg-type]


def test_defaults_need_no_file(tmp_path: Path) -> None:
    s = load(tmp_path)
    assert s.sandbox_mode
    assert s.instances == 2 and s.max_sessions == 50 and s.warm_pool == 2
    assert s.isolation == "context"
    assert s.effective_database_url.startswith("sqlite:///")
    assert s.resolved_webhook_secret() == SANDBOX_WEBHOOK_SECRET


def test_file_then_env_then_flags(tmp_path: Path) -> None:
    (tmp_path / "pairdesk.toml").write_text('max_sessions = 10\nisolation = "profile"\n')
    s = load(tmp_path)
    assert s.max_sessions == 10 and s.isolation == "profile"
    s = load(tmp_path, env={"PAIRDESK_MAX_SESSIONS": "20"})
    assert s.max_sessions == 20 and s.isolation == "profile"
    s = load(tmp_path, env={"PAIRDESK_MAX_SESSIONS": "20"}, flags={"max_sessions": 30})
    assert s.max_sessions == 30


def test_pairdesk_table_and_user_config_folder(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg" / "pairdesk"
    cfg.mkdir(parents=True)
    (cfg / "pairdesk.toml").write_text('[pairdesk]\nprovider_url = "https://web.whatsapp.com/"\n')
    s = load(tmp_path)
    assert s.provider_url == "https://web.whatsapp.com/"
    assert not s.sandbox_mode


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"PAIRDESK_MAX_SESSIONS": "abc"}, "PAIRDESK_MAX_SESSIONS (environment): expected a whole"),
        ({"PAIRDESK_ISOLATION": "vm"}, "'context' or 'profile'"),
        ({"PAIRDESK_CENTRAL_URL": "ftp://x"}, "http(s) URL"),
        ({"PAIRDESK_TIME_SCALE": "0"}, "a number above 0"),
        ({"PAIRDESK_WARM_POOL": "-1"}, "from 0 (off) to 50"),
        ({"PAIRDESK_DATABASE_URL": "just-a-name"}, "SQLAlchemy URL"),
    ],
)
def test_bad_values_name_the_key_and_the_form(
    tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    with pytest.raises(ConfigError, match=None) as info:
        load(tmp_path, env=env)
    assert expected in str(info.value)


def test_bad_toml_and_unknown_keys_are_clear(tmp_path: Path) -> None:
    (tmp_path / "pairdesk.toml").write_text("max_sessions = = 3")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(tmp_path)
    (tmp_path / "pairdesk.toml").write_text("max_sesions = 3")
    with pytest.raises(ConfigError, match="unknown setting.*max_sesions"):
        load(tmp_path)


def test_secrets_never_in_repr_or_errors(tmp_path: Path) -> None:
    secret = "s3cr3t-value-xyz"
    s = load(tmp_path, env={"PAIRDESK_WEBHOOK_SECRET": secret, "PAIRDESK_INSTANCE_TOKEN": secret})
    assert secret not in repr(s)
    assert secret not in str(s.redacted())
    assert s.resolved_webhook_secret() == secret


def test_secret_file_wins_and_missing_file_is_clear(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-file\n")
    s = load(tmp_path, env={"PAIRDESK_WEBHOOK_SECRET_FILE": str(secret_file)})
    assert s.resolved_webhook_secret() == "from-file"
    s = load(tmp_path, env={"PAIRDESK_WEBHOOK_SECRET_FILE": str(tmp_path / "nope")})
    with pytest.raises(ConfigError, match="cannot read"):
        s.resolved_webhook_secret()


def test_database_password_redacted(tmp_path: Path) -> None:
    s = load(tmp_path, env={"PAIRDESK_DATABASE_URL": "postgresql://u:pw123@db/x"})
    assert "pw123" not in str(s.redacted())


def test_with_overrides_validates(tmp_path: Path) -> None:
    s = load(tmp_path)
    assert s.with_overrides(instances=3).instances == 3
    with pytest.raises(ConfigError, match="instances"):
        s.with_overrides(instances=0)


def test_the_webhook_secret_can_live_in_the_os_keyring(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app import secret_store
    from tests.keyring_fakes import MemoryKeyring, NoKeyring

    keyring = MemoryKeyring()
    keyring.set_password("pairdesk", "webhook_secret", "from-keyring")
    monkeypatch.setattr(secret_store, "default_backend", lambda: keyring)
    (tmp_path / "pairdesk.toml").write_text(
        'central_url = "https://platform.example.com"\nwebhook_secret_keyring = true\n'
    )
    s = load(tmp_path)
    assert s.webhook_secret_keyring is True
    assert s.resolved_webhook_secret() == "from-keyring"
    # An inline secret (e.g. the one the supervisor hands an instance) wins over the keyring.
    assert load(tmp_path, env={"PAIRDESK_WEBHOOK_SECRET": "inline"}).resolved_webhook_secret() == (
        "inline"
    )
    monkeypatch.setattr(secret_store, "default_backend", lambda: NoKeyring())
    with pytest.raises(ConfigError, match="webhook_secret_keyring: .*no keyring service"):
        s.resolved_webhook_secret()


@pytest.mark.parametrize(
    ("raw", "value"), [("true", True), ("Yes", True), ("1", True), ("false", False), ("off", False)]
)
def test_switches_accept_the_usual_words(tmp_path: Path, raw: str, value: bool) -> None:
    s = load(tmp_path, env={"PAIRDESK_WEBHOOK_SECRET_KEYRING": raw})
    assert s.webhook_secret_keyring is value


def test_a_bad_switch_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="PAIRDESK_WEBHOOK_SECRET_KEYRING .*true .* or false"):
        load(tmp_path, env={"PAIRDESK_WEBHOOK_SECRET_KEYRING": "maybe"})


def test_toml_lines_read_back_as_written(tmp_path: Path) -> None:
    import tomllib

    from app.config import toml_line

    values = {"a": 'quote " back \\ slash\nnew line', "b": True, "c": 3, "d": 0.5}
    text = "\n".join(toml_line(k, v) for k, v in values.items())
    assert tomllib.loads(text) == values
