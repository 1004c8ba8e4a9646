"""What one instance reports about itself: process-tree load (psutil), counters,
and the Prometheus text of `GET /metrics`.

The tree is the instance's own Python process plus every descendant (Chromium
and its renderers), which is what an operator means by "this instance's
memory". CPU% needs two readings of the same process, so the sampler keeps its
`psutil.Process` objects between samples; 100% is one full core.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import psutil

from app.domain.models import SessionInfo
from app.domain.outbox import DeliveryMetrics
from app.domain.states import SessionState

MB = 1024 * 1024
HEARTBEAT_BUCKETS_MS = (5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0)


@dataclass(frozen=True)
class TreeLoad:
    cpu_percent: float = 0.0
    memory_bytes: int = 0
    processes: int = 0
    system_memory_bytes: int = 0


class ProcessTreeSampler:
    """Samples CPU% and resident memory of a process and all its descendants."""

    def __init__(self, pid: int | None = None) -> None:
        self._root = psutil.Process(pid or os.getpid())
        self._known: dict[int, psutil.Process] = {}
        self.last = TreeLoad(system_memory_bytes=psutil.virtual_memory().total)

    def sample(self) -> TreeLoad:
        try:
            procs = [self._root, *self._root.children(recursive=True)]
        except psutil.Error:
            procs = [self._root]
        cpu = 0.0
        rss = 0
        alive: dict[int, psutil.Process] = {}
        for proc in procs:
            # Reuse the object seen last time so cpu_percent measures since then.
            known = self._known.get(proc.pid, proc)
            try:
                cpu += known.cpu_percent(None)
                rss += known.memory_info().rss
            except psutil.Error:
                continue
            alive[proc.pid] = known
        self._known = alive
        self.last = TreeLoad(
            cpu_percent=round(cpu, 1),
            memory_bytes=rss,
            processes=len(alive),
            system_memory_bytes=psutil.virtual_memory().total,
        )
        return self.last


@dataclass
class Counters:
    """Monotonic counts since the instance started, for `/metrics`."""

    qr_issued: int = 0
    restarts: int = 0
    errors: int = 0
    transitions: Counter[str] = field(default_factory=Counter)
    recorded: int = 0
    record_failures: int = 0
    heartbeat_buckets: list[int] = field(default_factory=lambda: [0] * len(HEARTBEAT_BUCKETS_MS))
    heartbeat_count: int = 0
    heartbeat_sum_ms: float = 0.0

    def heartbeat(self, latency_ms: float) -> None:
        self.heartbeat_count += 1
        self.heartbeat_sum_ms += latency_ms
        for i, bound in enumerate(HEARTBEAT_BUCKETS_MS):
            if latency_ms <= bound:
                self.heartbeat_buckets[i] += 1


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_metrics(
    *,
    instance_id: str,
    sessions: Iterable[SessionInfo],
    counters: Counters,
    load: TreeLoad,
    uptime: float,
    capacity: int,
    listeners: int,
    outbox: DeliveryMetrics | None,
) -> str:
    """The Prometheus text exposition (format 0.0.4) of this instance."""
    inst = f'instance_id="{_label(instance_id)}"'
    lines: list[str] = []

    def metric(name: str, kind: str, help_text: str, samples: Iterable[tuple[str, float]]) -> None:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            joined = f"{inst},{labels}" if labels else inst
            shown = repr(float(value)) if isinstance(value, float) else str(value)
            lines.append(f"{name}{{{joined}}} {shown}")

    by_state = Counter(info.state.value for info in sessions)
    metric(
        "pairdesk_sessions",
        "gauge",
        "Sessions on this instance by engine state.",
        ((f'state="{s.value}"', by_state.get(s.value, 0)) for s in SessionState),
    )
    metric("pairdesk_capacity", "gauge", "Most sessions this instance accepts.", [("", capacity)])
    metric("pairdesk_uptime_seconds", "gauge", "Seconds since start.", [("", round(uptime, 3))])
    metric(
        "pairdesk_qr_issued_total", "counter", "Login QR codes issued.", [("", counters.qr_issued)]
    )
    metric(
        "pairdesk_session_restarts_total",
        "counter",
        "Sessions restarted after a disconnect or failure.",
        [("", counters.restarts)],
    )
    metric(
        "pairdesk_session_errors_total",
        "counter",
        "Session errors reported.",
        [("", counters.errors)],
    )
    metric(
        "pairdesk_state_transitions_total",
        "counter",
        "State transitions by target state.",
        ((f'state="{_label(k)}"', v) for k, v in sorted(counters.transitions.items())),
    )
    lines.append("# HELP pairdesk_heartbeat_latency_ms Page round trip of session heartbeats.")
    lines.append("# TYPE pairdesk_heartbeat_latency_ms histogram")
    for bound, count in zip(HEARTBEAT_BUCKETS_MS, counters.heartbeat_buckets, strict=True):
        lines.append(f'pairdesk_heartbeat_latency_ms_bucket{{{inst},le="{bound}"}} {count}')
    lines.append(
        f'pairdesk_heartbeat_latency_ms_bucket{{{inst},le="+Inf"}} {counters.heartbeat_count}'
    )
    lines.append(f"pairdesk_heartbeat_latency_ms_sum{{{inst}}} {counters.heartbeat_sum_ms!r}")
    lines.append(f"pairdesk_heartbeat_latency_ms_count{{{inst}}} {counters.heartbeat_count}")
    metric(
        "pairdesk_events_recorded_total",
        "counter",
        "Engine events written to the store.",
        [("", counters.recorded)],
    )
    metric(
        "pairdesk_event_record_failures_total",
        "counter",
        "Engine events the store could not record (see the instance log).",
        [("", counters.record_failures)],
    )
    metric("pairdesk_sse_listeners", "gauge", "Open /api/events streams.", [("", listeners)])
    metric(
        "pairdesk_process_cpu_percent",
        "gauge",
        "CPU of the instance's process tree (100 = one core).",
        [("", load.cpu_percent)],
    )
    metric(
        "pairdesk_process_memory_bytes",
        "gauge",
        "Resident memory of the instance's process tree (Python + Chromium).",
        [("", load.memory_bytes)],
    )
    metric(
        "pairdesk_processes", "gauge", "Processes in the instance's tree.", [("", load.processes)]
    )
    if outbox is not None:
        metric(
            "pairdesk_outbox_pending",
            "gauge",
            "Webhooks waiting to be sent.",
            [("", outbox.pending)],
        )
        metric(
            "pairdesk_outbox_oldest_pending_seconds",
            "gauge",
            "Age of the oldest webhook waiting to be sent.",
            [("", round(outbox.oldest_pending_age, 3))],
        )
        metric(
            "pairdesk_outbox_delivered",
            "gauge",
            "Webhooks accepted by the central API.",
            [("", outbox.delivered)],
        )
        metric(
            "pairdesk_outbox_dead",
            "gauge",
            "Webhooks the central API refused for good (need an operator).",
            [("", outbox.dead)],
        )
        metric(
            "pairdesk_outbox_superseded",
            "gauge",
            "QR webhooks dropped as superseded.",
            [("", outbox.superseded)],
        )
    return "\n".join(lines) + "\n"
