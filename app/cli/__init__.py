"""The `pairdesk` command line: one subcommand per job, `gui` by default.

Each subcommand lives in its own module and receives the parsed arguments and
the loaded `Settings`. Errors a user can meet (bad configuration, a port in
use, a missing browser) end as one clear line on stderr and exit status 2,
never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from app import __version__
from app.config import ConfigError, Settings
from app.permissions import private_files, secure_folders

# subcommand -> (module under app.cli, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "gui": ("_gui", "the operator console (default)"),
    "serve": ("_serve", "supervisor and instances without a window (terminal view)"),
    "instance": ("_instance", "one shard instance process"),
    "sandbox": ("_sandbox", "the local WhatsApp Web simulator, test phone and central API"),
    "onboard": ("_onboard", "add accounts from a CSV/XLSX file and walk through the scans"),
    "sync": ("_sync", "central API delivery: status, retry-dead, test"),
    "bench": ("_bench", "measure the performance targets"),
    "doctor": ("_doctor", "check that this machine can run pairdesk"),
    "fleet": ("_fleet", "fleet mode: status, add, drain, remove (docs/FLEET.md)"),
}


class OneLineParser(argparse.ArgumentParser):
    """A bad option is one line that names it (and where help is), not a usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


class UserError(Exception):
    """A failure the user can act on; printed as one line, exit status 2."""


def settings_flags(parser: argparse.ArgumentParser, *, nested: bool = False) -> None:
    """Flags every command accepts; each overrides the same key from file and env.

    `nested`: the copy on an action's own parser (`sync test --central-url X`),
    which leaves a value given before the action alone when it is not repeated."""
    group = parser.add_argument_group("settings (override pairdesk.toml and PAIRDESK_*)")
    default = argparse.SUPPRESS if nested else None
    group.add_argument(
        "--config", dest="config_file", help="path to a pairdesk.toml", default=default
    )
    for flag, dest in (
        ("--provider-url", "provider_url"),
        ("--central-url", "central_url"),
        ("--database-url", "database_url"),
        ("--sessions-dir", "sessions_dir"),
        ("--data-dir", "data_dir"),
        ("--chromium", "chromium"),
        ("--log-level", "log_level"),
        ("--fleet", "fleet_database_url"),  # fleet mode (docs/FLEET.md)
    ):
        group.add_argument(flag, dest=dest, default=default)


SETTINGS_FLAG_KEYS = (
    "provider_url",
    "central_url",
    "database_url",
    "sessions_dir",
    "data_dir",
    "chromium",
    "log_level",
    "fleet_database_url",
)


def build_parser(selected: str | None = None) -> argparse.ArgumentParser:
    """The parser; only the selected command's module is imported (a broken or
    slow-to-import command never gets in the way of another)."""
    parser = OneLineParser(
        prog="pairdesk",
        description="Link and watch many WhatsApp accounts for the messaging platform.",
    )
    parser.add_argument("--version", action="version", version=f"pairdesk {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        if name == selected:
            settings_flags(cmd)
            importlib.import_module(f"app.cli.{module}").add_arguments(cmd)
            # Actions of their own (`sync test`): settings flags after the action too.
            for action in cmd._actions:
                if isinstance(action, argparse._SubParsersAction):
                    for nested in action.choices.values():
                        settings_flags(nested, nested=True)
    return parser


def load_settings(args: argparse.Namespace, **extra: object) -> Settings:
    from pathlib import Path

    flags = {key: getattr(args, key, None) for key in SETTINGS_FLAG_KEYS}
    flags.update(extra)
    config_file = getattr(args, "config_file", None)
    settings = Settings.load(flags=flags, config_file=Path(config_file) if config_file else None)
    if getattr(args, "command", None) != "doctor":  # doctor reports what it finds instead
        secure_folders((settings.data_dir, settings.sessions_dir))
    return settings


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version"):
        argv = ["gui", *argv]
    args = build_parser(argv[0] if argv[0] in COMMANDS else None).parse_args(argv)
    module = importlib.import_module(f"app.cli.{COMMANDS[args.command][0]}")
    # Owner-only files and folders from here on, in this process and its children
    # (instances, Playwright, Chromium): the data is phone numbers and logins.
    with private_files():
        try:
            return int(module.run(args) or 0)
        except (ConfigError, UserError) as exc:
            print(f"pairdesk {args.command}: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            return 130


def not_built(name: str) -> int:
    print(
        f"pairdesk {name}: not built yet. This release has `pairdesk sandbox` and "
        "`pairdesk doctor`; see README.md for what is available.",
        file=sys.stderr,
    )
    return 2
