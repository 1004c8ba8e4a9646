"""Fixtures for console tests: a started `EngineHost` around a `FakeEngine`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.config import Settings
from app.ui.engine_host import EngineHost
from tests.ui.fakes import FakeEngine


@pytest.fixture
def fake_engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def host(qtbot, fake_engine: FakeEngine) -> Iterator[EngineHost]:
    h = EngineHost(lambda: fake_engine, interval_ms=10)
    with qtbot.waitSignal(h.sig_sessions_loaded, timeout=5000):
        h.start()
    yield h
    h.close()


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings.load(environ={}, cwd=tmp_path).with_overrides(
        webhook_secret="SUPER-SECRET-VALUE", instance_token="SECRET-TOKEN-123"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The offscreen platform warns about window size hints it cannot pass on; harmless.
    for item in items:
        if "tests/ui" in str(item.fspath):
            item.add_marker(pytest.mark.qt_log_ignore("propagateSizeHints"))
