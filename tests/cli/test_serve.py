"""`pairdesk serve`: the terminal view, and a real run stopped with Ctrl+C."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import pytest
from PIL import Image

from app.cli._serve import TerminalView, qr_art
from app.domain.events import QrIssued, SessionStateChanged
from app.domain.states import Reason, SessionState
from app.sandbox import read_qr

QR = "2@Yc1V0c3Rzb21lcmVm,aGVsbG8gbm9pc2Uga2V5IQ==,aWRlbnRpdHkga2V5IGhlcmU=,c2VjcmV0,WEB"


def _render(art: str) -> Image.Image:
    """Paint the half-block art as a terminal would (light glyphs on a dark screen)."""
    rows = [line for line in art.splitlines() if line]
    width = max(len(r) for r in rows)
    image = Image.new("L", (width, len(rows) * 2), 0)
    for y, row in enumerate(rows):
        for x, char in enumerate(row):
            top = char in "█▀"
            bottom = char in "█▄"
            image.putpixel((x, 2 * y), 255 if top else 0)
            image.putpixel((x, 2 * y + 1), 255 if bottom else 0)
    return image.resize((width * 8, len(rows) * 16), Image.NEAREST)


def _qr_issued(qr: str, *, count: int = 1) -> QrIssued:
    """A QR of session webjs_1_1_abcdefgh, issued now, scannable for 20 s."""
    now = datetime.now(UTC)
    return QrIssued(
        session_id="webjs_1_1_abcdefgh",
        workspace_id=1,
        qr=qr,
        expires_at=now + timedelta(seconds=20),
        qr_count=count,
        at=now,
    )


def test_qr_art_scans_back_to_the_same_string() -> None:
    assert read_qr(_render(qr_art(QR))) == [QR]


def test_the_view_prints_one_line_per_change_and_the_qr() -> None:
    out = io.StringIO()
    view = TerminalView(out)
    view.event(
        SessionStateChanged(
            session_id="webjs_1_1_abcdefgh",
            workspace_id=1,
            state=SessionState.DISCONNECTED,
            previous=SessionState.CONNECTED,
            reason=Reason.INSTANCE_RESTART,
            instance_id="instance-0",
        )
    )
    view.event(_qr_issued(QR, count=2))
    lines = out.getvalue().splitlines()
    assert lines[0].endswith(
        "webjs_1_1_abcdefgh [instance-0] connected -> disconnected (instance_restart)"
    )
    assert "QR #2, scan within 20 s" in lines[1]
    assert read_qr(_render("\n".join(lines[2:]))) == [QR]


def test_a_qr_too_long_to_draw_is_said_in_words_and_the_view_goes_on() -> None:
    out = io.StringIO()
    view = TerminalView(out)
    for qr in ("2@" + "x" * 3000, QR):  # more than any QR symbol holds, then a real one
        view.event(_qr_issued(qr))
    lines = out.getvalue().splitlines()
    assert "QR #1" in lines[0]
    assert "too long to draw" in lines[1] and "restart the account" in lines[1]
    assert read_qr(_render("\n".join(lines[3:]))) == [QR]


def test_the_view_prints_codes_and_what_a_gate_asks_of_the_operator() -> None:
    from app.domain.events import PairingCodeIssued
    from app.operator.text import reason_message

    out = io.StringIO()
    view = TerminalView(out, qr_art=False)
    now = datetime.now(UTC)
    view.event(
        PairingCodeIssued(
            session_id="s1",
            workspace_id=1,
            code="K7Q2M9XD",
            phone="6281234567890",
            expires_at=now + timedelta(seconds=180),
            code_count=1,
            at=now,
        )
    )
    view.event(
        SessionStateChanged(
            session_id="s1",
            workspace_id=1,
            state=SessionState.FAILED,
            previous=SessionState.QR,
            reason=Reason.TOS_BLOCK,
        )
    )
    lines = out.getvalue().splitlines()
    assert "pairing code #1 for +62 812 3456 7890: K7Q2-M9XD" in lines[0]
    assert lines[1].endswith("qr -> failed (TOS_BLOCK)")
    assert lines[2].endswith("   " + reason_message(Reason.TOS_BLOCK))


def test_the_view_says_what_went_wrong_when_no_advice_fits_the_reason() -> None:
    out = io.StringIO()
    view = TerminalView(out, qr_art=False)
    view.event(
        SessionStateChanged(
            session_id="s1",
            workspace_id=1,
            state=SessionState.DISCONNECTED,
            previous=SessionState.STARTING,
            reason=Reason.ERROR,
            detail="opening the page failed: the login page did not boot within 60 s",
        )
    )
    lines = out.getvalue().splitlines()
    assert lines[0].endswith("starting -> disconnected (error)")
    assert lines[1].endswith("  opening the page failed: the login page did not boot within 60 s")


@pytest.mark.e2e
def test_serve_shows_a_demo_qr_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAIRDESK_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app",
            "serve",
            "--demo",
            "1",
            "--no-qr",
            "--time-scale",
            "0.2",
            "--instances",
            "1",
            "--data-dir",
            str(tmp_path / "data"),
            "--sessions-dir",
            str(tmp_path / "sessions"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
        start_new_session=True,
    )
    seen: list[str] = []
    tree: dict[int, psutil.Process] = {}
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line.rstrip())
            if " QR #1" in line:
                break
        assert any(" QR #1" in line for line in seen), "\n".join(seen)
        root = psutil.Process(proc.pid)
        for p in [root, *root.children(recursive=True)]:
            tree[p.pid] = p
        assert any("chrom" in p.name().lower() for p in tree.values())
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, err
    assert out.rstrip().endswith("stopped")
    left = [p.pid for p in tree.values() if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert left == []


def test_missing_chromium_stops_serve_with_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAIRDESK_")}
    env["HOME"] = str(tmp_path)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "app",
            "serve",
            "--chromium",
            str(tmp_path / "no-such-chromium"),
            "--data-dir",
            str(tmp_path / "data"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("pairdesk serve: cannot start: the configured Chromium")
    assert "PAIRDESK_CHROMIUM" in line
    assert done.stdout == ""


def test_an_instance_in_trouble_gets_one_status_line_per_change() -> None:
    from app.domain.models import InstanceInfo

    out = io.StringIO()
    view = TerminalView(out)
    down = InstanceInfo(instance_id="instance-0", index=0, last_error="exited with status 1")
    view.instances([down])
    view.instances([down])  # the supervisor retried: same trouble, no new line
    view.instances([InstanceInfo(instance_id="instance-0", index=0, alive=True)])
    view.instances([down])
    lines = [line.split(" ", 1)[1] for line in out.getvalue().splitlines()]
    assert lines == [
        "instance-0 down: exited with status 1; retrying with back-off (0 restart(s) so far)",
        "instance-0 down: exited with status 1; retrying with back-off (0 restart(s) so far)",
    ]
