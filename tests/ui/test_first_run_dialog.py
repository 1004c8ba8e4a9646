"""The first-run dialog: sandbox or production, checks in place, no secret in the clear."""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog

from app.first_run import CheckOutcome, FirstRunChecks
from app.ui.first_run_dialog import PRODUCTION, SANDBOX, FirstRunDialog
from tests.keyring_fakes import MemoryKeyring, NoKeyring


class Checks:
    """Fake checks that remember what they were asked."""

    def __init__(self, *, connection_ok: bool = True) -> None:
        self.connection_ok = connection_ok
        self.asked: list[tuple[str, ...]] = []

    async def test_connection(self, url: str, secret: str) -> CheckOutcome:
        self.asked.append(("connection", url, secret))
        if self.connection_ok:
            return CheckOutcome(True, "the central API accepted the signature", ["HTTP 202"])
        return CheckOutcome(False, "the signature did not match", ["ask for the current secret"])

    async def check_database(self, url: str) -> CheckOutcome:
        self.asked.append(("database", url))
        return CheckOutcome(True, "reached the database: it is empty", [])

    def bundle(self) -> FirstRunChecks:
        return FirstRunChecks(self.test_connection, self.check_database)


def environ(tmp_path: Path) -> dict[str, str]:
    return {
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
    }


def config_file(tmp_path: Path) -> Path:
    return tmp_path / "cfg" / "pairdesk" / "pairdesk.toml"


@pytest.fixture
def make(qtbot, tmp_path: Path):
    def build(checks: Checks | None = None, keyring: object = None) -> FirstRunDialog:
        dialog = FirstRunDialog(
            (checks or Checks()).bundle(),
            environ=environ(tmp_path),
            keyring=keyring if keyring is not None else NoKeyring(),
        )
        qtbot.addWidget(dialog)
        dialog.show()
        return dialog

    return build


def fill(dialog: FirstRunDialog, url: str = "https://platform.example.com", secret: str = "s3cret"):
    dialog.production_button.click()
    dialog.central_url.setText(url)
    dialog.secret.setText(secret)


def run_test(qtbot, dialog: FirstRunDialog) -> None:
    with qtbot.waitSignal(dialog.sig_check_done, timeout=10_000):
        dialog.test_button.click()


def test_try_the_sandbox_writes_a_config_and_starts(make, tmp_path: Path) -> None:
    dialog = make()
    dialog.sandbox_button.click()
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert dialog.choice == SANDBOX and dialog.config_path == config_file(tmp_path)
    assert tomllib.loads(config_file(tmp_path).read_text()) == {}  # every default: the sandbox


def test_decide_later_writes_nothing(make, tmp_path: Path) -> None:
    dialog = make()
    dialog.later_button.click()
    assert dialog.result() == QDialog.DialogCode.Rejected and dialog.choice == ""
    assert not config_file(tmp_path).exists()


def test_connection_test_runs_in_place_and_shows_its_verdict(qtbot, make) -> None:
    checks = Checks(connection_ok=False)
    dialog = make(checks)
    fill(dialog)
    run_test(qtbot, dialog)
    assert checks.asked == [("connection", "https://platform.example.com", "s3cret")]
    text = dialog.test_verdict.text()
    assert "the signature did not match" in text and "ask for the current secret" in text
    assert "s3cret" not in text
    assert not dialog.check_passed("connection")


def test_production_with_a_passing_test_saves_secret_apart_from_the_config(
    qtbot, make, tmp_path: Path
) -> None:
    dialog = make()
    fill(dialog)
    run_test(qtbot, dialog)
    assert dialog.check_passed("connection")
    dialog.save_button.click()
    assert dialog.choice == PRODUCTION
    text = config_file(tmp_path).read_text()
    assert "s3cret" not in text
    values = tomllib.loads(text)
    secret_file = Path(values["webhook_secret_file"])
    assert secret_file.read_text().strip() == "s3cret"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert values["central_url"] == "https://platform.example.com"
    assert "database_url" not in values  # SQLite in the data folder


def test_with_a_keyring_the_config_only_points_at_it(qtbot, make, tmp_path: Path) -> None:
    keyring = MemoryKeyring()
    dialog = make(keyring=keyring)
    assert "system keyring (memory keyring)" in dialog.secret_where.text()
    fill(dialog)
    run_test(qtbot, dialog)
    dialog.save_button.click()
    assert keyring.items[("pairdesk", "webhook_secret")] == "s3cret"
    values = tomllib.loads(config_file(tmp_path).read_text())
    assert values["webhook_secret_keyring"] is True and "webhook_secret_file" not in values


def test_saving_untested_values_takes_a_second_deliberate_click(
    qtbot, make, tmp_path: Path
) -> None:
    dialog = make()
    fill(dialog)
    dialog.save_button.click()
    assert not config_file(tmp_path).exists()
    assert "did not pass a test" in dialog.save_error.text()
    assert dialog.save_button.text() == "Save anyway"
    dialog.save_button.click()
    assert dialog.choice == PRODUCTION and config_file(tmp_path).exists()


def test_a_value_changed_after_the_test_needs_testing_again(qtbot, make) -> None:
    dialog = make()
    fill(dialog)
    run_test(qtbot, dialog)
    dialog.secret.setText("another")
    assert not dialog.check_passed("connection")


def test_bad_input_is_shown_by_its_field_and_nothing_is_written(make, tmp_path: Path) -> None:
    dialog = make()
    fill(dialog, url="platform.example.com", secret="")
    dialog.save_button.click()
    assert "http(s) URL" in dialog.errors["central_url"].text()
    assert "webhook secret" in dialog.errors["secret"].text()
    assert dialog.choice == "" and not config_file(tmp_path).exists()
    assert not (tmp_path / "cfg" / "pairdesk" / "webhook.secret").exists()


def test_the_database_choice_is_checked_and_a_password_refused(qtbot, make, tmp_path) -> None:
    checks = Checks()
    dialog = make(checks)
    fill(dialog)
    dialog.use_postgres.setChecked(True)
    dialog.database_url.setText("postgresql://pd:hunter2@db/pd")
    dialog.db_button.click()
    assert ".pgpass" in dialog.errors["database_url"].text()
    assert not any(a[0] == "database" for a in checks.asked)
    dialog.database_url.setText("postgresql://pd@db/pd")
    with qtbot.waitSignal(dialog.sig_check_done, timeout=10_000):
        qtbot.mouseClick(dialog.db_button, Qt.MouseButton.LeftButton)
    assert ("database", "postgresql://pd@db/pd") in checks.asked
    assert "it is empty" in dialog.db_verdict.text()
    run_test(qtbot, dialog)
    dialog.save_button.click()
    values = tomllib.loads(config_file(tmp_path).read_text())
    assert values["database_url"] == "postgresql://pd@db/pd"


def test_a_config_written_meanwhile_is_kept_and_the_dialog_says_so(make, tmp_path: Path) -> None:
    dialog = make()
    config_file(tmp_path).parent.mkdir(parents=True)
    config_file(tmp_path).write_text("instances = 4\n")
    dialog.sandbox_button.click()
    assert "already exists" in dialog.welcome_error.text()
    assert dialog.choice == "" and config_file(tmp_path).read_text() == "instances = 4\n"
