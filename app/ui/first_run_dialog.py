"""The first-run dialog: try the sandbox, or connect to production.

Shown by `run_console` before the engine starts, only when `pairdesk gui`
decided this is a first run (`app.first_run.is_first_run`, and never for
`--demo`, `--screenshot`, `--demo-engine` or an offscreen display; see
`app/cli/_gui.py`). Two pages:

- welcome: "Try the sandbox" (writes a `pairdesk.toml` that keeps the
  defaults), "Connect to production" (the next page), "Decide later" (writes
  nothing; the console starts on the sandbox and asks again next time);
- production: the central API URL and the webhook secret, with "Test
  connection" (the signed probe of `pairdesk sync test`, its verdict in
  plain words); the database (SQLite on this computer, or a PostgreSQL URL
  with "Check"); "Save and start" keeps the secret in the OS keyring or a
  0600 file (`app.secret_store`) and writes `pairdesk.toml` without it.

Checks run on a short-lived thread of their own (`app/ui/verdict.py`; the
engine is not started yet) and report back through `sig_check_done`, so the
dialog never freezes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QCommandLinkButton,
    QDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.config import Settings, user_data_dir
from app.first_run import (
    PRODUCTION_PROVIDER_URL,
    CheckOutcome,
    FirstRunChecks,
    FirstRunError,
    ProductionChoice,
    production_config,
    sandbox_config,
    validate_production,
    write_first_config,
)
from app.secret_store import SecretStoreError, save_secret, usable_keyring
from app.ui.engine_host import EngineFactory
from app.ui.verdict import error_label, run_check, set_verdict, stack, verdict_label
from app.ui.window_parts import app_icon

SANDBOX, PRODUCTION = "sandbox", "production"
MAX_HEIGHT = 760


@dataclass(frozen=True)
class FirstRun:
    """What `run_console` needs to offer the first-run dialog.

    `reload` loads the settings again once a choice was saved, and gives the
    engine factory bound to them.
    """

    checks: FirstRunChecks
    reload: Callable[[], tuple[Settings, EngineFactory]]
    environ: Mapping[str, str]
    keyring: Any = None  # a keyring backend; None: the machine's own


class FirstRunDialog(QDialog):
    """The first-run choice. After `exec()`, `choice` is SANDBOX, PRODUCTION or ""
    (decided later) and `config_path` the file written.

    Signals:
        sig_check_done(str, object): a check ("connection" or "database") finished
            with its `CheckOutcome` (emitted from the check's thread, delivered on
            the GUI thread).
    """

    sig_check_done = Signal(str, object)

    def __init__(
        self,
        checks: FirstRunChecks,
        *,
        environ: Mapping[str, str],
        keyring: Any = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Welcome to pairdesk")
        self.setWindowIcon(app_icon())
        self.checks = checks
        self.environ = environ
        self.keyring = keyring
        self.choice = ""
        self.config_path: Path | None = None
        self.passed: dict[str, tuple[str, ...]] = {}  # check -> the inputs it passed with
        self._running: set[str] = set()
        self._warned_untested = False
        self.pages = QStackedWidget()
        self.pages.addWidget(self._welcome_page())
        # Verdicts can run to several lines: the form scrolls rather than clip them.
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self._production_page())
        production = QWidget()
        box = QVBoxLayout(production)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(scroll, 1)
        box.addWidget(self.save_error)
        box.addLayout(self._production_buttons())  # always in view, never scrolled away
        self.pages.addWidget(production)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.addWidget(self.pages)
        self.sig_check_done.connect(self._on_check_done)
        self.setMinimumWidth(640)
        self.resize(720, 400)

    # ----------------------------------------------------------- pages

    def _welcome_page(self) -> QWidget:
        icon = QLabel()
        icon.setPixmap(app_icon().pixmap(64, 64))
        title = QLabel("Welcome to pairdesk")
        title.setObjectName("AppName")
        title.setStyleSheet("font-size: 20px;")
        intro = QLabel(
            "No settings were found on this computer. How do you want to start? "
            "You can change everything later in Settings (Ctrl+,)."
        )
        intro.setWordWrap(True)
        head = QHBoxLayout()
        head.addWidget(icon)
        head.addSpacing(12)
        text = QVBoxLayout()
        text.addWidget(title)
        text.addWidget(intro)
        head.addLayout(text, 1)
        self.sandbox_button = QCommandLinkButton(
            "Try the sandbox",
            "A built-in WhatsApp Web login simulator, test phone and central API on this "
            "computer. No phone and no platform needed; nothing leaves this machine.",
        )
        self.production_button = QCommandLinkButton(
            "Connect to production",
            "Link customers' real WhatsApp accounts and report them to your platform's "
            "central API. You need the API's address and its webhook secret.",
        )
        self.later_button = QPushButton("Decide later")
        self.later_button.setToolTip("Start on the sandbox now and ask again next time")
        self.welcome_error = error_label()
        self.sandbox_button.clicked.connect(self._on_sandbox_button_clicked)
        self.production_button.clicked.connect(self._on_production_button_clicked)
        self.later_button.clicked.connect(self.reject)
        footer = QHBoxLayout()
        note = QLabel("Decide later: the console starts on the sandbox.")
        note.setProperty("muted", True)
        footer.addWidget(note, 1)
        footer.addWidget(self.later_button)
        page = QWidget()
        box = QVBoxLayout(page)
        box.setContentsMargins(0, 0, 0, 0)
        box.addLayout(head)
        box.addSpacing(16)
        box.addWidget(self.sandbox_button)
        box.addWidget(self.production_button)
        box.addWidget(self.welcome_error)
        box.addStretch(1)
        box.addLayout(footer)
        return page

    def _production_page(self) -> QWidget:
        title = QLabel("Connect to production")
        title.setObjectName("AppName")
        intro = QLabel(
            f"Accounts log in at {PRODUCTION_PROVIDER_URL}; their state is sent to the "
            "central API as signed webhooks."
        )
        intro.setWordWrap(True)
        intro.setProperty("muted", True)

        self.central_url = QLineEdit()
        self.central_url.setPlaceholderText("https://platform.example.com")
        self.secret = QLineEdit()
        self.secret.setEchoMode(QLineEdit.EchoMode.Password)
        self.secret.setPlaceholderText("the webhook secret the platform gave you")
        show = QCheckBox("Show")
        show.toggled.connect(
            lambda on: self.secret.setEchoMode(
                QLineEdit.EchoMode.Normal if on else QLineEdit.EchoMode.Password
            )
        )
        secret_row = QHBoxLayout()
        secret_row.addWidget(self.secret, 1)
        secret_row.addWidget(show)
        self.secret_where = QLabel(self._secret_destination())
        self.secret_where.setWordWrap(True)
        self.secret_where.setProperty("muted", True)
        self.test_button = QPushButton("Test connection")
        self.test_button.setToolTip("Send one signed test request, as `pairdesk sync test` does")
        self.test_verdict = verdict_label()
        self.test_button.clicked.connect(self._on_test_button_clicked)

        data_dir = user_data_dir(self.environ)
        self.use_sqlite = QRadioButton("This computer (SQLite)")
        self.use_sqlite.setToolTip(f"The database file goes into {data_dir}")
        self.use_postgres = QRadioButton("A PostgreSQL server, shared by several consoles")
        self.use_sqlite.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.use_sqlite)
        group.addButton(self.use_postgres)
        self.database_url = QLineEdit()
        self.database_url.setPlaceholderText("postgresql://pairdesk@db.example.com:5432/pairdesk")
        self.database_url.setEnabled(False)
        self.db_button = QPushButton("Check")
        self.db_button.setEnabled(False)
        self.db_verdict = verdict_label()
        self.use_postgres.toggled.connect(self.database_url.setEnabled)
        self.use_postgres.toggled.connect(self.db_button.setEnabled)
        self.db_button.clicked.connect(self._on_db_button_clicked)
        db_row = QHBoxLayout()
        db_row.addWidget(self.database_url, 1)
        db_row.addWidget(self.db_button)

        self.errors = {key: error_label() for key in ("central_url", "secret", "database_url")}
        form = QFormLayout()
        form.addRow("Central API URL", stack(self.central_url, self.errors["central_url"]))
        form.addRow("Webhook secret", stack(secret_row, self.errors["secret"], self.secret_where))
        form.addRow("", stack(self.test_button, self.test_verdict))
        where = QLabel(f"SQLite keeps its file in {data_dir}.")
        where.setWordWrap(True)
        where.setProperty("muted", True)
        form.addRow("Database", stack(self.use_sqlite, where, self.use_postgres, db_row))
        form.addRow("", stack(self.errors["database_url"], self.db_verdict))

        self.save_error = error_label()
        for edit in (self.central_url, self.secret, self.database_url):
            edit.textChanged.connect(self._on_input_changed)
        page = QWidget()
        box = QVBoxLayout(page)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(title)
        box.addWidget(intro)
        box.addSpacing(8)
        box.addLayout(form)
        box.addStretch(1)
        return page

    def _production_buttons(self) -> QHBoxLayout:
        self.back_button = QPushButton("Back")
        self.back_button.clicked.connect(lambda: self.pages.setCurrentIndex(0))
        self.save_button = QPushButton("Save and start")
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self._on_save_button_clicked)
        buttons = QHBoxLayout()
        buttons.addWidget(self.back_button)
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)
        return buttons

    def _grow(self) -> None:
        """Make room for a longer verdict, up to what fits on a laptop screen."""
        page = self.pages.currentWidget()
        scroll = page.findChild(QScrollArea) if page is not None else None
        inner = scroll.widget() if scroll is not None else None
        wanted = inner.sizeHint().height() + 120 if inner is not None else self.height()
        self.resize(self.width(), max(self.height(), min(wanted, MAX_HEIGHT)))

    def _secret_destination(self) -> str:
        name = usable_keyring(self._keyring())
        if name:
            return f"Kept in the system keyring ({name}), never in pairdesk.toml."
        return (
            "This desktop has no keyring service: the secret is kept in a file only you can "
            "read (mode 0600) next to pairdesk.toml, never in pairdesk.toml itself."
        )

    def _keyring(self) -> Any:
        if self.keyring is None:
            from app.secret_store import default_backend

            try:
                self.keyring = default_backend()
            except Exception:  # no backend at all: the secret goes to a file
                self.keyring = False
        return self.keyring or None

    # ----------------------------------------------------------- state

    def production_choice(self) -> ProductionChoice:
        database = self.database_url.text().strip() if self.use_postgres.isChecked() else ""
        return ProductionChoice(central_url=self.central_url.text().strip(), database_url=database)

    def _inputs(self, check: str) -> tuple[str, ...]:
        if check == "connection":
            return (self.central_url.text().strip(), self.secret.text().strip())
        return (self.database_url.text().strip(),)

    def check_passed(self, check: str) -> bool:
        """True when `check` passed with the values now in the form."""
        return self.passed.get(check) == self._inputs(check)

    def _show_problems(self, problems: Mapping[str, str]) -> None:
        for key, label in self.errors.items():
            label.setText(problems.get(key, ""))
            label.setVisible(key in problems)

    # ----------------------------------------------------------- checks

    def _run_check(self, check: str, make: Callable[[], Awaitable[CheckOutcome]]) -> None:
        if check in self._running:
            return
        self._running.add(check)
        inputs = self._inputs(check)
        run_check(make, lambda outcome: self.sig_check_done.emit(check, (inputs, outcome)))

    @Slot()
    def _on_production_button_clicked(self) -> None:
        self.pages.setCurrentIndex(1)
        self._grow()

    @Slot()
    def _on_test_button_clicked(self) -> None:
        problems = validate_production(self.production_choice(), self.secret.text())
        problems.pop("database_url", None)
        self._show_problems(problems)
        if problems:
            return
        url, secret = self._inputs("connection")
        self.test_button.setEnabled(False)
        set_verdict(self.test_verdict, None, f"Sending a signed test request to {url}…", [])
        self._run_check("connection", lambda: self.checks.test_connection(url, secret))

    @Slot()
    def _on_db_button_clicked(self) -> None:
        problems = validate_production(self.production_choice(), self.secret.text())
        if "database_url" in problems or not self.database_url.text().strip():
            self._show_problems(
                {"database_url": problems.get("database_url", "Enter the PostgreSQL URL")}
            )
            return
        (url,) = self._inputs("database")
        self.db_button.setEnabled(False)
        set_verdict(self.db_verdict, None, "Connecting…", [])
        self._run_check("database", lambda: self.checks.check_database(url))

    @Slot(str, object)
    def _on_check_done(self, check: str, result: tuple[tuple[str, ...], CheckOutcome]) -> None:
        inputs, outcome = result
        self._running.discard(check)
        if outcome.ok:
            self.passed[check] = inputs
        else:
            self.passed.pop(check, None)
        label = self.test_verdict if check == "connection" else self.db_verdict
        set_verdict(label, outcome.ok, outcome.headline, outcome.details)
        self._grow()
        self.test_button.setEnabled(True)
        self.db_button.setEnabled(self.use_postgres.isChecked())

    @Slot()
    def _on_input_changed(self) -> None:
        self._warned_untested = False
        self.save_button.setText("Save and start")

    # ----------------------------------------------------------- saving

    @Slot()
    def _on_sandbox_button_clicked(self) -> None:
        try:
            self.config_path = write_first_config(sandbox_config(), environ=self.environ)
        except FirstRunError as exc:
            self.welcome_error.setText(str(exc))
            self.welcome_error.show()
            return
        self.choice = SANDBOX
        self.accept()

    @Slot()
    def _on_save_button_clicked(self) -> None:
        choice = self.production_choice()
        problems = validate_production(choice, self.secret.text())
        self._show_problems(problems)
        if problems:
            return
        untested = [
            what
            for check, what in (("connection", "the connection"), ("database", "the database"))
            if (check == "connection" or choice.database_url) and not self.check_passed(check)
        ]
        if untested and not self._warned_untested:
            # Saving without a passing test is allowed (the platform may be down for a
            # moment), but never by accident: the first click says so.
            self._warned_untested = True
            self.save_error.setText(
                f"{' and '.join(untested).capitalize()} did not pass a test with these "
                "values. Webhooks wait in the outbox until the central API accepts them. "
                "Press “Save anyway” to save all the same."
            )
            self.save_error.show()
            self.save_button.setText("Save anyway")
            return
        try:
            config_dir = _config_dir(self.environ)
            stored = save_secret(self.secret.text(), config_dir=config_dir, backend=self._keyring())
            self.config_path = write_first_config(
                production_config(choice, stored), environ=self.environ
            )
        except (SecretStoreError, FirstRunError) as exc:
            self.save_error.setText(f"Not saved: {exc}")
            self.save_error.show()
            return
        self.choice = PRODUCTION
        self.accept()


def ask(first_run: FirstRun, parent: QWidget | None = None) -> tuple[str, Path | None]:
    """Show the dialog; (choice, file written)."""
    dialog = FirstRunDialog(
        first_run.checks, environ=first_run.environ, keyring=first_run.keyring, parent=parent
    )
    dialog.exec()
    return dialog.choice, dialog.config_path


def _config_dir(environ: Mapping[str, str]) -> Path:
    from app.config import default_config_path

    return default_config_path(environ).parent
