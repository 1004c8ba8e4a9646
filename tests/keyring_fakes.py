"""In-memory keyring backends: tests never touch the machine's keyring."""

from __future__ import annotations


class MemoryKeyring:
    """A usable keyring (priority 5, as Secret Service or the macOS Keychain)."""

    priority = 5
    name = "memory keyring"

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], str] = {}

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))


class NoKeyring:
    """keyring's "fail" backend: what a desktop without a keyring service gets."""

    priority = 0
    name = "fail Keyring"

    def set_password(self, service: str, username: str, password: str) -> None:
        raise RuntimeError("No recommended backend was available")

    def get_password(self, service: str, username: str) -> str | None:
        raise RuntimeError("No recommended backend was available")


class LockedKeyring(MemoryKeyring):
    """A keyring that exists but refuses (locked, or the user said no)."""

    def set_password(self, service: str, username: str, password: str) -> None:
        raise PermissionError("the collection is locked")

    def get_password(self, service: str, username: str) -> str | None:
        raise PermissionError("the collection is locked")
