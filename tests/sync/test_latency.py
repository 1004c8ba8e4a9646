"""The sync-path latency harness behind `pairdesk bench`: it runs and measures every event."""

from __future__ import annotations

from pathlib import Path

from app.bench._sync_latency import measure_webhook_latency
from app.sync._latency import summary


async def test_measures_every_event_end_to_end(tmp_path: Path) -> None:
    result = await measure_webhook_latency(
        12, sessions=4, interval=0.005, folder=tmp_path, timeout=120, in_process=True
    )
    # Four sessions share the QRs: one overtaken by a newer QR of its session before it
    # went out is superseded and correctly never sent. Every event is accounted for.
    assert result["n"] == 12 and result["rejected"] == 0
    assert result["received"] + result["superseded"] == 12 and result["received"] >= 4
    for key in ("event_to_received_ms", "enqueue_to_received_ms"):
        figures = result[key]
        assert figures["n"] == result["received"]
        assert figures["min"] <= figures["p50"] <= figures["p95"] <= figures["max"]
    for key in ("render_ms", "commit_ms"):  # every event is rendered and committed
        assert result[key]["n"] == 12
    assert len(result["load_average"]) == 3


def test_summary_shape_matches_the_bench() -> None:
    assert summary([]) == {"n": 0}
    figures = summary([float(v) for v in range(1, 101)])
    assert figures["n"] == 100 and figures["p50"] == 50.5 and figures["max"] == 100.0
    assert set(figures) == {"n", "p50", "p95", "min", "max", "mean"}


async def test_the_receiver_can_run_in_its_own_process(tmp_path: Path) -> None:
    result = await measure_webhook_latency(4, sessions=2, folder=tmp_path, timeout=120)
    assert result["receiver"] == "process"
    assert result["received"] + result["superseded"] == 4 and result["rejected"] == 0
    assert result["event_to_received_ms"]["n"] == result["received"]
