"""Fixtures of the engine tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.engine.engine_support import FakeLauncher


@pytest.fixture
def fake_launcher(tmp_path: Path) -> FakeLauncher:
    return FakeLauncher(folder=tmp_path)
