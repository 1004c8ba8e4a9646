"""Measure the desktop bundle: its size, `--version`, and start-up to the console window.

    python packaging/measure_bundle.py [--bundle dist/pairdesk] [--runs 5]

Prints one line per figure: the median and the range of `--runs` runs, for
the bundle and, for comparison, the development venv's `pairdesk`.

- size: every file of the bundle folder (and the .tar.gz beside it, if any);
- `--version`: wall time of `pairdesk --version`, process start to exit;
- console window: wall time from starting `pairdesk gui` (the real engine on
  the sandbox, a fresh home folder each run) to the console's first frame:
  `--screenshot PATH --after 0` grabs the window at the first turn of the
  Qt event loop and prints "screenshot:", which is where the clock stops.
  It runs on a real X server (Xvfb, started once for all runs), so the X11
  (xcb) platform plugin and its libraries are the ones in use.

Numbers from a 2-core machine shared with other work are noisy: compare
medians from the same run, never one run against a threshold.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WINDOW_TIMEOUT = 180


def folder_size(folder: Path) -> int:
    return sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


@contextmanager
def xvfb() -> Iterator[str]:
    """A private X server; yields its DISPLAY."""
    if shutil.which("Xvfb") is None:
        sys.exit("measure_bundle: Xvfb is missing (Debian: apt-get install xvfb)")
    read, write = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as fh:
        number = fh.readline().strip()
    try:
        yield f":{number}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _env(home: Path, display: str = "") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TZ")}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
    )
    if display:
        env["DISPLAY"] = display
    return env


def time_version(program: str) -> float:
    with tempfile.TemporaryDirectory() as home:
        started = time.perf_counter()
        subprocess.run(
            [program, "--version"], env=_env(Path(home)), check=True, capture_output=True
        )
        return time.perf_counter() - started


def time_window(program: str, display: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        shot = home / "first-frame.png"
        started = time.perf_counter()
        proc = subprocess.Popen(
            [program, "gui", "--screenshot", str(shot), "--after", "0"],
            cwd=home,
            env=_env(home, display),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        assert proc.stdout is not None
        elapsed = None
        try:
            for line in proc.stdout:
                if line.startswith("screenshot:"):
                    elapsed = time.perf_counter() - started
                    break
            proc.wait(timeout=WINDOW_TIMEOUT)  # the console closes itself after the shot
        finally:
            if proc.poll() is None:  # only the group this script started
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if elapsed is None:
            sys.exit(f"measure_bundle: {program} gui never showed its window")
        return elapsed


def summary(label: str, samples: list[float]) -> str:
    return (
        f"{label:<34} median {statistics.median(samples):6.2f} s   "
        f"(min {min(samples):.2f}, max {max(samples):.2f}, {len(samples)} runs)"
    )


def measure(label: str, runs: int, probe: Callable[[], float]) -> None:
    probe()  # warm the page cache: the figures are for a program already on disk
    print(summary(label, [probe() for _ in range(runs)]), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=ROOT / "dist" / "pairdesk")
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    program = args.bundle / "pairdesk"
    if not program.is_file():
        sys.exit(f"measure_bundle: no bundle at {args.bundle}; run `make bundle` first")
    print(f"bundle size                        {folder_size(args.bundle) / 2**20:.0f} MiB")
    for archive in sorted(args.bundle.parent.glob("pairdesk-*.tar.gz")):
        print(f"archive {archive.name:<26} {archive.stat().st_size / 2**20:.0f} MiB")
    candidates = [("bundle", str(program))]
    if (args.venv / "bin" / "pairdesk").is_file():
        candidates.append(("venv", str(args.venv / "bin" / "pairdesk")))
    for name, path in candidates:
        measure(f"{name}: pairdesk --version", args.runs, lambda p=path: time_version(p))
    with xvfb() as display:
        for name, path in candidates:
            measure(
                f"{name}: gui to the console window",
                args.runs,
                lambda p=path: time_window(p, display),
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
