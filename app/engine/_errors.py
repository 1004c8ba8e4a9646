"""The one error type the engine's public API raises."""

from __future__ import annotations

__all__ = ["EngineError"]


class EngineError(RuntimeError):
    """An operation failed in a way the operator can act on; the message says how."""
