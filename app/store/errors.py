"""Errors the store raises, written for the operator who will read them.

Each message says what happened, what it affects and what to do; none
contains a password (URLs are shown with the password masked).
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "AccountNotFound",
    "DatabaseTooNew",
    "DatabaseUnavailable",
    "DuplicateSessionId",
    "InstanceNotFound",
    "SchemaOutOfDate",
    "StoreError",
    "redact_url",
]


class StoreError(RuntimeError):
    """Base of every store error."""


class DatabaseUnavailable(StoreError):
    """The database cannot be opened or reached."""


class DatabaseTooNew(StoreError):
    """The database was migrated by a newer pairdesk than this one."""


class SchemaOutOfDate(StoreError):
    """The database has not been upgraded to this version's schema yet."""


class DuplicateSessionId(StoreError):
    """One or more session ids already exist (or repeat within one request)."""

    def __init__(self, session_ids: list[str]) -> None:
        self.session_ids = sorted(set(session_ids))
        shown = ", ".join(self.session_ids[:5])
        more = f" and {len(self.session_ids) - 5} more" if len(self.session_ids) > 5 else ""
        super().__init__(
            f"session id already in use: {shown}{more}; nothing was created. "
            "Remove the duplicates or leave session_id empty so pairdesk makes a new one."
        )


class AccountNotFound(StoreError, LookupError):
    """No account with that session id."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        super().__init__(f"no account with session id {session_id!r}; it may have been removed")


class InstanceNotFound(StoreError, LookupError):
    def __init__(self, instance_id: str) -> None:
        self.instance_id = instance_id
        super().__init__(
            f"no instance {instance_id!r} is registered; register it with upsert_instance first"
        )


def redact_url(url: str) -> str:
    """The URL with any password replaced by `***`, safe for messages and logs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(unparseable database URL)"
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = parts.username or ""
    masked = f"{user}:***@{netloc[-1]}"
    return urlunsplit((parts.scheme, masked, parts.path, parts.query, parts.fragment))
