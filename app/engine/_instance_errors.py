"""Failures of instance operations, each with the HTTP status and stable code the
instance API answers with (`{"success": false, "error": ..., "code": ...}`).

Messages are written for whoever called the API (the supervisor, the
platform, an operator with curl): what happened and what to do about it.
"""

from __future__ import annotations


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
    status = 404
    code = "unknown_session"

    def __init__(self, session_id: str) -> None:
        super().__init__(
            f"session {session_id} is not known to this instance; "
            "add it with POST /api/sessions or ask the instance it is assigned to"
        )


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
