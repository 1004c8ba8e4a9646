"""The wheel works outside the source tree: built, installed into an empty venv, run.

`python -m build`, run on a copy of the checkout's files as a fresh clone
would hold them, makes the sdist and, from it, the wheel (so the sdist is
complete too); the wheel goes into a new venv in a temporary folder; every
command then runs from another temporary folder, with a temporary home and
no PYTHONPATH, so nothing can come from this checkout. It proves what a
`pip install pairdesk` user gets: `--version`, `doctor`, the migrations, the
sandbox page served over HTTP, `serve` up to a QR from a real instance (the
supervisor starting `python -m app instance` from site-packages), and the
console painted offscreen.

Marked `network` (pip fetches the dependencies from the package registry;
deselect with `-m "not network"` offline) and `e2e` (doctor and serve start
Chromium). About two minutes on the 2-core CI machine, most of it pip; the
pip cache lives in the system's temporary folder, so later runs are faster.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import app
from tests.packaging.installed import (
    Installed,
    check_console_paints,
    check_sandbox_page,
    check_serve_shows_a_qr,
)

pytestmark = [pytest.mark.network, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT = 600
# Everything read at run time, as the wheel must carry it (importlib.resources finds it).
PACKAGE_DATA = (
    "app/sandbox/page/index.html",
    "app/sandbox/page/login.js",
    "app/sandbox/page/modules.js",
    "app/sandbox/page/ui.js",
    "app/engine/browser/js/whatsapp_web.js",
    "app/store/migrations/env.py",
    "app/store/migrations/script.py.mako",
    "app/ui/icons/pairdesk-256.png",
    "app/ui/icons/pairdesk.svg",
)


@dataclass(frozen=True)
class Wheel:
    """The built artefacts, and pairdesk installed from the wheel into `venv`."""

    wheel: Path
    sdist: Path
    venv: Path
    installed: Installed

    @property
    def python(self) -> str:
        return str(self.venv / "bin" / "python")


def _fresh_clone(target: Path) -> Path:
    """The checkout's files as git sees them (tracked, plus new ones not ignored), copied
    to `target`: the build starts from what a fresh clone would hold and writes nothing
    into this checkout (setuptools leaves an egg-info folder where it builds)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def _pip_cache() -> Path:
    # A temporary folder that outlives one run: a re-run does not fetch every wheel again.
    return Path(tempfile.gettempdir()) / "pairdesk-test-pip-cache"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Wheel]:
    base = tmp_path_factory.mktemp("wheel")
    dist = base / "dist"
    env = dict(os.environ, PIP_CACHE_DIR=str(_pip_cache()))
    env.pop("PYTHONPATH", None)
    build = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(dist), str(_fresh_clone(base / "src"))],
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    (wheel,) = dist.glob("pairdesk-*.whl")
    (sdist,) = dist.glob("pairdesk-*.tar.gz")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=BUILD_TIMEOUT)
    pip = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
    )
    assert pip.returncode == 0, (
        "installing the wheel failed (offline? deselect with -m 'not network'):\n"
        + pip.stderr[-3000:]
    )
    home, cwd = base / "home", base / "elsewhere"
    home.mkdir()
    cwd.mkdir()
    program = str(venv / "bin" / "pairdesk")
    yield Wheel(wheel=wheel, sdist=sdist, venv=venv, installed=Installed(program, home, cwd))


def test_both_artefacts_carry_the_package_data(wheel: Wheel) -> None:
    wheel_names = set(zipfile.ZipFile(wheel.wheel).namelist())
    with tarfile.open(wheel.sdist) as tar:
        sdist_names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    revisions = [n for n in wheel_names if re.match(r"app/store/migrations/versions/\w+\.py$", n)]
    assert revisions, "no migration revision in the wheel"
    for name in PACKAGE_DATA:
        assert name in wheel_names, f"{name} is missing from the wheel"
        assert name in sdist_names, f"{name} is missing from the sdist"
    assert wheel.wheel.name == f"pairdesk-{app.__version__}-py3-none-any.whl"


def test_runs_from_site_packages_with_the_checkouts_version(wheel: Wheel) -> None:
    where = wheel.installed.run(wheel.python, "-c", "import app; print(app.__file__)")
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(wheel.venv)
    version = wheel.installed.run(wheel.installed.program, "--version")
    assert version.stdout.strip() == f"pairdesk {app.__version__}"


def test_doctor_passes(wheel: Wheel) -> None:
    doctor = wheel.installed.run(wheel.installed.program, "doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "all checks passed" in doctor.stdout


def test_migrations_run_from_the_package(wheel: Wheel) -> None:
    code = (
        "from app.store import upgrade, current_revision, create_engine_for, head_revision\n"
        "url = 'sqlite:///migrated.db'\n"
        "upgrade(url)\n"
        "print(current_revision(create_engine_for(url)) == head_revision())\n"
    )
    result = wheel.installed.run(wheel.python, "-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_sandbox_serves_its_page(wheel: Wheel) -> None:
    check_sandbox_page(wheel.installed)


def test_serve_shows_a_qr_from_a_real_instance(wheel: Wheel) -> None:
    check_serve_shows_a_qr(wheel.installed)


def test_console_paints_offscreen(wheel: Wheel) -> None:
    check_console_paints(wheel.installed)
