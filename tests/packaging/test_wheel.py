"""The wheel works outside the source tree: built, installed into an empty venv, run.

`python -m build` makes the sdist and, from it, the wheel (so the sdist is
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
import signal
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

import app

pytestmark = [pytest.mark.network, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT = 600
RUN_TIMEOUT = 180
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
class Installed:
    venv: Path
    home: Path
    cwd: Path
    wheel: Path
    sdist: Path

    @property
    def pairdesk(self) -> str:
        return str(self.venv / "bin" / "pairdesk")

    @property
    def python(self) -> str:
        return str(self.venv / "bin" / "python")

    def env(self) -> dict[str, str]:
        keep = ("PATH", "LANG", "LC_ALL", "TZ", "PIP_CONFIG_FILE")
        env = {k: v for k, v in os.environ.items() if k in keep}
        env.update(
            HOME=str(self.home),
            XDG_CONFIG_HOME=str(self.home / ".config"),
            XDG_DATA_HOME=str(self.home / ".local" / "share"),
            QT_QPA_PLATFORM="offscreen",
        )
        return env

    def run(self, *argv: str, timeout: float = RUN_TIMEOUT) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv, cwd=self.cwd, env=self.env(), capture_output=True, text=True, timeout=timeout
        )


def _pip_cache() -> Path:
    # A temporary folder that outlives one run: a re-run does not fetch every wheel again.
    return Path(tempfile.gettempdir()) / "pairdesk-test-pip-cache"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    base = tmp_path_factory.mktemp("wheel")
    dist = base / "dist"
    env = dict(os.environ, PIP_CACHE_DIR=str(_pip_cache()))
    env.pop("PYTHONPATH", None)
    build = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)],
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
    yield Installed(venv=venv, home=home, cwd=cwd, wheel=wheel, sdist=sdist)


def test_both_artefacts_carry_the_package_data(installed: Installed) -> None:
    wheel_names = set(zipfile.ZipFile(installed.wheel).namelist())
    with tarfile.open(installed.sdist) as tar:
        sdist_names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    revisions = [n for n in wheel_names if re.match(r"app/store/migrations/versions/\w+\.py$", n)]
    assert revisions, "no migration revision in the wheel"
    for name in PACKAGE_DATA:
        assert name in wheel_names, f"{name} is missing from the wheel"
        assert name in sdist_names, f"{name} is missing from the sdist"
    assert installed.wheel.name == f"pairdesk-{app.__version__}-py3-none-any.whl"


def test_runs_from_site_packages_with_the_checkouts_version(installed: Installed) -> None:
    where = installed.run(installed.python, "-c", "import app; print(app.__file__)")
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(installed.venv)
    version = installed.run(installed.pairdesk, "--version")
    assert version.stdout.strip() == f"pairdesk {app.__version__}"


def test_doctor_passes(installed: Installed) -> None:
    doctor = installed.run(installed.pairdesk, "doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "all checks passed" in doctor.stdout


def test_migrations_run_from_the_package(installed: Installed) -> None:
    code = (
        "from app.store import upgrade, current_revision, create_engine_for, head_revision\n"
        "url = 'sqlite:///migrated.db'\n"
        "upgrade(url)\n"
        "print(current_revision(create_engine_for(url)) == head_revision())\n"
    )
    result = installed.run(installed.python, "-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_sandbox_serves_its_page(installed: Installed) -> None:
    proc = subprocess.Popen(
        [installed.pairdesk, "sandbox", "--port", "0"],
        cwd=installed.cwd,
        env=installed.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = _wait_for_line(proc, r"sandbox: (http://\S+)")
        page = httpx.get(url, timeout=30)
        assert page.status_code == 200
        script = (ROOT / "app" / "sandbox" / "page" / "modules.js").read_text(encoding="utf-8")
        assert script.splitlines()[0] in page.text  # the scripts are inlined, as packaged
        assert "{{SCRIPT}}" not in page.text
    finally:
        _interrupt(proc)


def test_serve_shows_a_qr_from_a_real_instance(installed: Installed) -> None:
    proc = subprocess.Popen(
        [installed.pairdesk, "serve", "--demo", "1", "--instances", "1", "--no-qr"],
        cwd=installed.cwd,
        env=installed.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        _wait_for_line(proc, r"QR #1")
    finally:
        code = _interrupt(proc)
    assert code in (0, 130), f"serve exited with {code}"


def test_console_paints_offscreen(installed: Installed) -> None:
    shot = installed.cwd / "console.png"
    result = installed.run(
        installed.pairdesk, "gui", "--demo-engine", "--screenshot", str(shot), "--after", "1"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert shot.stat().st_size > 10_000


def _wait_for_line(proc: subprocess.Popen[str], pattern: str) -> str:
    """The first group (or the whole match) of the first output line matching `pattern`."""
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        found = re.search(pattern, line)
        if found:
            return found.group(1) if found.groups() else found.group(0)
    raise AssertionError(f"the process ended without printing {pattern!r}:\n{''.join(seen)}")


def _interrupt(proc: subprocess.Popen[str]) -> int:
    """Ctrl+C, as a user would; the process stops its instances and browsers itself."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise
