"""Errors of the browser side of an instance, written for whoever called the API.

They extend the instance API's errors so the HTTP layer answers them with the
right status and code without a translation table.
"""

from __future__ import annotations

from app.engine._instance_errors import Conflict, InstanceError, UnknownSession


class SessionLocked(Conflict):
    """The session is already open here or in another process (its folder lock is held)."""

    code = "session_locked"

    def __init__(self, session_id: str, message: str = "") -> None:
        super().__init__(
            message
            or f"session {session_id} is already open (its folder is locked by a running "
            "instance); stop it there first, or wait for that instance to exit"
        )
        self.session_id = session_id


class StateCorrupt(InstanceError):
    """Neither state.json nor state.prev.json of a session can be read."""

    code = "state_corrupt"

    def __init__(self, session_id: str) -> None:
        super().__init__(
            f"the saved login of session {session_id} is damaged (state.json and "
            "state.prev.json are both unreadable); log the session out and scan a new QR"
        )
        self.session_id = session_id


class SessionUnknown(UnknownSession):
    """No session with that id is open on this host."""


class BrowserUnavailable(InstanceError):
    """Chromium could not be started or restarted."""

    status = 503
    code = "browser_unavailable"
