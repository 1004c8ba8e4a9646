"""An instance's start-up heap, out of the garbage collector's way.

A full collection of Python's cyclic garbage collector (generation 2) walks
every tracked object, and pauses the thread that triggers it. Measured with
a `gc.callbacks` probe in the webhook bench: an instance's event loop paused
55-104 ms about twice a minute; a paused loop holds back every QR, webhook
and heartbeat behind it.

What an instance builds while it starts (modules, Playwright's objects, the
app's own: about 130,000 objects) lives until it exits, yet every full
collection walked it again. `freeze_startup_heap()` collects once, then moves all that
into the permanent generation (`gc.freeze()`), which collections skip: later
full collections walk only what was made since. Objects still die by
reference counting as always; only cyclic garbage among the frozen objects
would be kept, and there is none right after a collection.
"""

from __future__ import annotations

import gc

__all__ = ["freeze_startup_heap"]


def freeze_startup_heap() -> int:
    """Collect once, then freeze every object alive; returns how many were frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
