"""Every error the engine raises, in one place.

`EngineError` is the one error the console's door (`api.py`) raises: an
operation failed in a way the operator can act on. The `InstanceError` family
is what an instance answers on its HTTP API (each with the status and the
stable `code` of `{"success": false, "error": ..., "code": ...}`); the
session-side errors extend it so the HTTP layer answers them without a
translation table. Messages are written for whoever called: what happened
and what to do about it.
"""

from __future__ import annotations

__all__ = [
    "BadRequest",
    "BrowserUnavailable",
    "CapacityFull",
    "Conflict",
    "EngineError",
    "InstanceError",
    "OperationFailed",
    "OperationTimeout",
    "SessionLocked",
    "StateCorrupt",
    "Unavailable",
    "UnknownSession",
]


class EngineError(RuntimeError):
    """An operation failed in a way the operator can act on; the message says how."""


# ------------------------------------------------------------ instance API


class InstanceError(Exception):
    """An operation on the instance failed; `status`/`code` say how to answer."""

    status = 500
    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(InstanceError):
    status = 422
    code = "invalid"


class UnknownSession(InstanceError):
    """No session with that id is known here."""

    status = 404
    code = "unknown_session"

    def __init__(self, session_id: str) -> None:
        super().__init__(
            f"session {session_id} is not known to this instance; "
            "add it with POST /api/sessions or ask the instance it is assigned to"
        )
        self.session_id = session_id


class Conflict(InstanceError):
    status = 409
    code = "conflict"


class CapacityFull(InstanceError):
    status = 503
    code = "capacity"


class Unavailable(InstanceError):
    status = 503
    code = "unavailable"


class OperationFailed(InstanceError):
    status = 500
    code = "operation_failed"


class OperationTimeout(InstanceError):
    status = 504
    code = "timeout"


# ------------------------------------------------------------ browser side


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


class BrowserUnavailable(InstanceError):
    """Chromium could not be started or restarted."""

    status = 503
    code = "browser_unavailable"
