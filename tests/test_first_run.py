"""When the console asks its first-run question, and the pairdesk.toml it writes."""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path

import pytest

from app.config import Settings
from app.first_run import (
    PRODUCTION_PROVIDER_URL,
    FirstRunError,
    ProductionChoice,
    is_first_run,
    production_config,
    sandbox_config,
    validate_production,
    write_first_config,
)
from app.secret_store import StoredSecret


def environ(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "cfg")} | extra


def test_nothing_configured_is_a_first_run(tmp_path: Path) -> None:
    assert is_first_run(explicit_config=None, environ=environ(tmp_path), cwd=tmp_path)


@pytest.mark.parametrize(
    "how",
    ["flag", "PAIRDESK_CONFIG", "variable", "user file", "folder file"],
)
def test_any_configuration_means_it_is_not(tmp_path: Path, how: str) -> None:
    env = environ(tmp_path)
    explicit = None
    if how == "flag":
        explicit = str(tmp_path / "elsewhere.toml")
    elif how == "PAIRDESK_CONFIG":
        env["PAIRDESK_CONFIG"] = str(tmp_path / "missing.toml")  # even a wrong one
    elif how == "variable":
        env["PAIRDESK_CENTRAL_URL"] = "https://platform.example.com"
    elif how == "user file":
        (tmp_path / "cfg" / "pairdesk").mkdir(parents=True)
        (tmp_path / "cfg" / "pairdesk" / "pairdesk.toml").write_text("")
    else:
        (tmp_path / "pairdesk.toml").write_text("")
    assert not is_first_run(explicit_config=explicit, environ=env, cwd=tmp_path)


def test_unrelated_variables_do_not_count(tmp_path: Path) -> None:
    env = environ(tmp_path, PAIRDESK_SOMETHING_ELSE="1", DISPLAY=":0")
    assert is_first_run(explicit_config=None, environ=env, cwd=tmp_path)


def test_the_sandbox_choice_writes_a_file_that_keeps_the_defaults(tmp_path: Path) -> None:
    env = environ(tmp_path)
    path = write_first_config(sandbox_config(), environ=env)
    assert path == tmp_path / "cfg" / "pairdesk" / "pairdesk.toml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    settings = Settings.load(environ=env, cwd=tmp_path / "cfg")
    assert settings.sandbox_mode and not settings.central_url
    assert not is_first_run(explicit_config=None, environ=env, cwd=tmp_path)  # asked once


@pytest.mark.parametrize("where", ["keyring", "file"])
def test_the_production_file_says_where_the_secret_is_but_never_holds_it(
    tmp_path: Path, where: str
) -> None:
    env = environ(tmp_path)
    secret_file = tmp_path / "cfg" / "pairdesk" / "webhook.secret"
    stored = (
        StoredSecret("keyring", "the system keyring")
        if where == "keyring"
        else StoredSecret("file", str(secret_file), path=secret_file)
    )
    choice = ProductionChoice(
        central_url="https://platform.example.com/", database_url="postgresql://pd@db/pd"
    )
    text = production_config(choice, stored)
    assert "s3cret" not in text
    path = write_first_config(text, environ=env)
    values = tomllib.loads(path.read_text())
    assert values["provider_url"] == PRODUCTION_PROVIDER_URL
    assert values["central_url"] == "https://platform.example.com"
    assert values["database_url"] == "postgresql://pd@db/pd"
    assert "webhook_secret" not in values
    if where == "keyring":
        assert values["webhook_secret_keyring"] is True
    else:
        assert values["webhook_secret_file"] == str(secret_file)
    assert not Settings.load(environ=env, cwd=tmp_path).sandbox_mode


def test_a_file_that_appeared_meanwhile_is_never_overwritten(tmp_path: Path) -> None:
    env = environ(tmp_path)
    path = tmp_path / "cfg" / "pairdesk" / "pairdesk.toml"
    path.parent.mkdir(parents=True)
    path.write_text("instances = 4\n")
    with pytest.raises(FirstRunError, match="already exists"):
        write_first_config(sandbox_config(), environ=env)
    assert path.read_text() == "instances = 4\n"


def test_a_file_that_appears_while_ours_is_written_is_kept_and_the_user_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second console's first run saves its pairdesk.toml after this one looked and
    before it put its own in place: that file stays, byte for byte, and this console
    says so, as when the file was there from the start."""
    env = environ(tmp_path)
    path = tmp_path / "cfg" / "pairdesk" / "pairdesk.toml"
    theirs = b"# the other console's\ninstances = 4\r\n"
    fsync = os.fsync

    def other_console_first(fd: int) -> None:  # while ours is on its way to disk
        path.write_bytes(theirs)
        fsync(fd)

    monkeypatch.setattr(os, "fsync", other_console_first)
    with pytest.raises(FirstRunError) as info:
        write_first_config(sandbox_config(), environ=env)
    assert str(info.value) == (
        f"{path} already exists (written after this console started); "
        "nothing was changed. Restart pairdesk to use it."
    )
    assert path.read_bytes() == theirs
    assert [p.name for p in path.parent.iterdir()] == ["pairdesk.toml"]  # no temp file


def test_a_file_the_next_start_would_refuse_is_not_left_behind(tmp_path: Path) -> None:
    env = environ(tmp_path)
    with pytest.raises(FirstRunError, match="could not be saved"):
        write_first_config("instances = 0\n", environ=env)
    assert not (tmp_path / "cfg" / "pairdesk" / "pairdesk.toml").exists()


def test_validation_names_each_field_in_plain_words() -> None:
    assert validate_production(ProductionChoice("https://platform.example.com"), "s") == {}
    problems = validate_production(ProductionChoice("ftp://x", database_url="nonsense"), " ")
    assert set(problems) == {"central_url", "secret", "database_url"}
    assert "http(s) URL" in problems["central_url"]
    assert "central API" in validate_production(ProductionChoice(""), "s")["central_url"]


def test_a_database_password_is_refused_with_where_to_put_it() -> None:
    choice = ProductionChoice(
        "https://platform.example.com", database_url="postgresql://pd:hunter2@db/pd"
    )
    problem = validate_production(choice, "s")["database_url"]
    assert ".pgpass" in problem and "hunter2" not in problem
