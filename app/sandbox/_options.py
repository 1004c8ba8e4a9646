"""Options of the login simulator: timings, flavour and the page's identity.

Every duration of the login flow (ref lifetimes, pairing, sync, reconnect
backoff) is multiplied by `time_scale`, so a test can run the whole 160 s QR
batch in a few seconds. `boot_delay` is the exception: it is real seconds,
because it models the site's boot time (which an adapter must wait for with
its own timeout) rather than a WhatsApp protocol timer, and because tests of
the "slow boot" fault want a delay they can reason about without the scale.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FLAVOURS = ("full", "dom", "pixels")
"""full: window.require modules + DOM; dom: DOM only (data-ref attribute);
pixels: neither modules nor data-ref, only the drawn QR canvas."""

FIRST_REF_SECONDS = 60.0
NEXT_REF_SECONDS = 20.0
REFS_PER_BATCH = 6
PAIRING_CODE_SECONDS = 180.0  # how long a pairing code stays valid; the real client renews at 180 s
LANGUAGES = ("en", "es")
"""The page's words (the `language` fault): automation must not depend on them."""
TERMINAL_STATES = ("PROXYBLOCK", "TOS_BLOCK", "SMB_TOS_BLOCK", "DEPRECATED_VERSION")
"""Socket states the `block_state` fault pushes pages into; the page never leaves them."""

PAGE_WEIGHTS = ("light", "real")
"""light: the login page alone (a few tens of MiB a renderer); real: a linked page also
keeps the heap, DOM, stored messages and background work of a live client
(calibration in docs/SANDBOX.md, "Page weight")."""


@dataclass(frozen=True)
class PageWeight:
    """What a synced page at weight "real" keeps and does (page/weight.js)."""

    heap_mb: int = 40
    """Message models kept in the JavaScript heap (about 400 bytes each)."""
    dom_rows: int = 600
    """Chat-list rows in the DOM, 6 elements and 4 text nodes each (about 6,000 nodes)."""
    store_kb: int = 8192
    """Messages stored in IndexedDB (about 1 KiB each); snapshots carry them."""
    tick_seconds: float = 5.0
    """A sync tick (models touched, one message stored) this often; real seconds."""
    tick_cpu_ms: float = 20.0
    """CPU time of one sync tick (about 0.4% of a core at 5 s)."""
    keepalive_seconds: float = 20.0
    """A keep-alive on the login socket this often, as the real client pings."""

    def spec(self) -> dict[str, float]:
        return {
            "heapMb": self.heap_mb,
            "domRows": self.dom_rows,
            "storeKb": self.store_kb,
            "tickSeconds": self.tick_seconds,
            "tickCpuMs": self.tick_cpu_ms,
            "keepaliveSeconds": self.keepalive_seconds,
        }


REAL_WEIGHT = PageWeight()

_TOKEN = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


@dataclass(frozen=True)
class SandboxOptions:
    """How a simulator instance behaves; faults can change some of it at run time."""

    time_scale: float = 1.0
    boot_delay: float = 0.3
    """Seconds before `window.Debug.VERSION` appears; not scaled (see module doc)."""
    sync_delay: float = 1.0
    """Seconds from CONNECTED to `hasSynced` (scaled)."""
    pair_delay: float = 0.5
    """Seconds from a scan (PAIRING) to CONNECTED (scaled)."""
    flavour: str = "full"
    first_ref_seconds: float = FIRST_REF_SECONDS
    next_ref_seconds: float = NEXT_REF_SECONDS
    refs_per_batch: int = REFS_PER_BATCH
    pairing_code_seconds: float = PAIRING_CODE_SECONDS
    version: str = "2.3000.1031980585"
    """`window.Debug.VERSION`; 2.3000+ is what whatsapp-web.js calls "Comet"."""
    platform: str = "WEB"
    """Last field of the QR string (the page's DEVICE_PLATFORM)."""
    state_file: str = ""
    """Where linked devices are kept across restarts (empty: forgotten on exit)."""
    page_weight: str = "light"
    """What a linked page costs: "light" or "real" (see PAGE_WEIGHTS)."""

    def __post_init__(self) -> None:
        _positive("time_scale", self.time_scale, allow_zero=False)
        _positive("boot_delay", self.boot_delay)
        _positive("sync_delay", self.sync_delay)
        _positive("pair_delay", self.pair_delay)
        _positive("first_ref_seconds", self.first_ref_seconds, allow_zero=False)
        _positive("next_ref_seconds", self.next_ref_seconds, allow_zero=False)
        _positive("pairing_code_seconds", self.pairing_code_seconds, allow_zero=False)
        if isinstance(self.refs_per_batch, bool) or not isinstance(self.refs_per_batch, int):
            raise ValueError("refs_per_batch: expected a whole number from 1 to 100")
        if not 1 <= self.refs_per_batch <= 100:
            raise ValueError("refs_per_batch: expected a whole number from 1 to 100")
        check_flavour(self.flavour)
        if not _TOKEN.match(self.version) or not _TOKEN.match(self.platform):
            raise ValueError("version and platform: expected 1-32 letters, digits, '_', '.', '-'")
        check_page_weight(self.page_weight)
        if not isinstance(self.state_file, str):
            raise ValueError(f"state_file: expected a file path or '', got {self.state_file!r}")

    def scaled(self, seconds: float) -> float:
        """A protocol duration in real seconds under this time scale."""
        return seconds * self.time_scale

    def ref_lifetime(self, index: int) -> float:
        """Real seconds the `index`-th ref (0-based) of a batch stays valid."""
        base = self.first_ref_seconds if index == 0 else self.next_ref_seconds
        return self.scaled(base)

    def weight_spec(self) -> dict[str, float] | None:
        """The page's weight figures (page/weight.js), None at "light"."""
        return REAL_WEIGHT.spec() if self.page_weight == "real" else None


def check_page_weight(value: object) -> str:
    if value not in PAGE_WEIGHTS:
        raise ValueError(f"page_weight: expected one of {', '.join(PAGE_WEIGHTS)}, got {value!r}")
    return str(value)


def check_flavour(value: object) -> str:
    if value not in FLAVOURS:
        raise ValueError(f"flavour: expected one of {', '.join(FLAVOURS)}, got {value!r}")
    return str(value)


def _positive(name: str, value: object, *, allow_zero: bool = True) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value == value
    if ok and (value > 0 or (allow_zero and value == 0)) and value < 1e6:  # type: ignore[operator]
        return
    expected = "a number of seconds, 0 or more" if allow_zero else "a number above 0"
    raise ValueError(f"{name}: expected {expected}, got {value!r}")
