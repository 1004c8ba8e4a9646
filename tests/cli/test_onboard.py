"""`pairdesk onboard FILE`: rows checked first, nothing created from a bad file, the walk
(warm-up, scans, give-up, results) over a scripted engine, a second run that continues
the first from its results file, and real runs."""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path

import pytest

from app.cli import main
from app.domain.events import PairingCodeIssued, SessionReady, utcnow
from app.domain.states import Reason, SessionState
from app.operator.onboarding import MAX_WARM, WARM
from app.sandbox import PhoneError
from tests.ui.fakes import FakeEngine, qr_event, state_event


class ScannedEngine(FakeEngine):
    """The console tests' fake engine, with a QR for every started session and the
    sandbox test phone's effect: a scan links the account at once."""

    sandbox_url = "http://sandbox.test/"

    def __init__(self) -> None:
        super().__init__()
        self.waiting: set[str] = set()  # started, not scanned: a QR someone has to watch
        self.most_waiting = 0

    async def start_session(self, session_id: str) -> None:
        await super().start_session(session_id)
        self.waiting.add(session_id)
        self.most_waiting = max(self.most_waiting, len(self.waiting))
        self._put(qr_event(session_id, qr=f"qr-{session_id}"))

    async def stop_session(self, session_id: str) -> None:
        await super().stop_session(session_id)
        self.waiting.discard(session_id)
        self._put(state_event(session_id, SessionState.STOPPED))

    async def request_pairing_code(self, session_id: str, phone: str) -> None:
        await super().request_pairing_code(session_id, phone)
        self.waiting.add(session_id)
        code = PairingCodeIssued(
            session_id=session_id,
            workspace_id=1,
            code=f"C{len(session_id):03d}{session_id[-4:]}".replace("-", "X")[:8].upper(),
            phone=phone,
            expires_at=utcnow() + timedelta(seconds=180),
            code_count=1,
        )
        self.codes[code.code] = session_id
        self._put(code)

    codes: dict[str, str] = {}

    def link(self, qr: str, phone: str) -> None:
        session_id = self.codes.get(qr) or qr.removeprefix("qr-")
        self.waiting.discard(session_id)
        self._put(state_event(session_id, SessionState.PAIRING))
        self._put(SessionReady(session_id=session_id, workspace_id=1, phone_number=phone))


class Phone:
    """Stands in for `AsyncTestPhone`: scans link on the engine, except `refused` QRs."""

    def __init__(self, engine: ScannedEngine, refused: frozenset[str]) -> None:
        self.engine, self.refused = engine, refused

    async def scan(self, qr: str, phone: str) -> dict[str, object]:
        if qr in self.refused:
            raise PhoneError(410, "expired")
        self.engine.link(qr, phone)
        return {}

    async def pair(self, code: str, phone: str) -> dict[str, object]:
        self.engine.link(code, phone)
        return {}

    async def aclose(self) -> None:
        pass


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> ScannedEngine:
    fake = ScannedEngine()
    monkeypatch.setattr("app.bootstrap.open_engine", lambda settings: fake)
    return fake


def _walk(monkeypatch, engine: ScannedEngine, refused: frozenset[str] = frozenset()) -> None:
    """`--phone-scan-sandbox` scans with `Phone` instead of the sandbox's test phone."""
    monkeypatch.setattr("app.cli._onboard.AsyncTestPhone", lambda url: Phone(engine, refused))


@pytest.fixture
def no_engine(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Fails the test if anything tries to build an engine (i.e. create accounts)."""
    opened: list[object] = []

    def refuse(settings: object) -> object:
        opened.append(settings)
        raise AssertionError("an engine was opened")

    monkeypatch.setattr("app.bootstrap.open_engine", refuse)
    return opened


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in [k for k in __import__("os").environ if k.startswith("PAIRDESK_")]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def _sheet(tmp_path: Path, text: str, name: str = "accounts.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_bad_rows_are_listed_and_nothing_is_created(tmp_path, capsys, no_engine):
    path = _sheet(tmp_path, "workspace_id,label,phone\nabc,Bengkel,\n,Empty,\n7,Toko,12ab\n")
    assert main(["onboard", str(path)]) == 2
    out, err = capsys.readouterr()
    assert "row 2: workspace_id 'abc' is not a number" in out
    assert "row 3: workspace_id is empty" in out
    assert "row 4: phone '12ab'" in out
    assert "no valid row" in err and "nothing was created" in err
    assert not no_engine and not (tmp_path / "accounts.csv.results.csv").exists()


def test_mixed_rows_need_confirmation(tmp_path, capsys, no_engine, monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    path = _sheet(tmp_path, "workspace_id,label\n1,Toko\nx,Bad\n1,Toko\n")
    assert main(["onboard", str(path)]) == 2
    out = capsys.readouterr().out
    assert "row 3: workspace_id 'x' is not a number" in out
    assert "row 4: duplicate of row 2" in out
    assert "1 row(s) ready, 2 rejected" in out and "--yes" in out
    assert not no_engine


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("label,phone\nToko,\n", "no workspace_id column"),
        ("", "the file is empty"),
        ("workspace_id,label\n", "no data rows"),
    ],
)
def test_unusable_file_creates_nothing(tmp_path, capsys, no_engine, text, why):
    assert main(["onboard", str(_sheet(tmp_path, text))]) == 2
    err = capsys.readouterr().err
    assert why in err and "nothing was created" in err and "Traceback" not in err
    assert not no_engine


def test_missing_file_is_one_line(tmp_path, capsys, no_engine):
    assert main(["onboard", str(tmp_path / "nope.csv")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_the_walk_keeps_three_qrs_open_scans_each_and_writes_every_row(
    tmp_path, capsys, engine, monkeypatch
):
    _walk(monkeypatch, engine)
    lines = "".join(f"{k},Desk {k},\n" for k in range(1, 7))
    path = _sheet(tmp_path, f"workspace_id,label,phone\n{lines}x,Bad,\n")
    code = main(["onboard", str(path), "--yes", "--phone-scan-sandbox", "--no-qr"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert engine.add_started is False  # created stopped; the walk opens them
    # The current account and the next two; more ahead (never more than MAX_WARM) while
    # scans come faster than a page boots, as this test phone's do.
    assert WARM <= engine.most_waiting <= MAX_WARM
    assert "[1/6] Desk 1 (ws 1)" in out and "[6/6] Desk 6 (ws 6)" in out
    assert "✓ Desk 6 (ws 6) connected" in out and "6 / 6 connected" in out
    rows = list(csv.DictReader((tmp_path / "accounts.csv.results.csv").open(encoding="utf-8")))
    assert [r["result"] for r in rows] == ["connected"] * 6 + [
        "rejected: workspace_id 'x' is not a number"
    ]
    assert all(r["phone"].startswith("6281") and r["session_id"] for r in rows[:6])


def test_an_account_not_linked_in_time_is_given_up_and_the_walk_goes_on(
    tmp_path, capsys, engine, monkeypatch
):
    _walk(monkeypatch, engine, refused=frozenset({"qr-s-1-0"}))
    path = _sheet(tmp_path, "workspace_id,label,phone\n1,Toko,\n2,Klinik,\n")
    code = main(["onboard", str(path), "--phone-scan-sandbox", "--no-qr", "--timeout", "1"])
    out = capsys.readouterr().out
    assert code == 1
    assert "test phone: HTTP 410; waiting for the next QR" in out
    assert "Toko (ws 1): not linked within 1 s; skipped" in out
    assert ("stop_session", "s-1-0") in engine.calls
    rows = list(csv.DictReader((tmp_path / "accounts.csv.results.csv").open(encoding="utf-8")))
    assert [r["result"] for r in rows] == ["timed out", "connected"]


def test_by_code_rows_with_a_phone_get_a_code_and_a_block_is_given_up_at_once(
    tmp_path, capsys, engine, monkeypatch
):
    _walk(monkeypatch, engine)
    blocked = "s-3-2"
    original = engine.start_session

    async def start(session_id: str) -> None:
        if session_id == blocked:  # this account is banned: the page says so at once
            await original(session_id)
            engine.waiting.discard(session_id)
            engine._put(
                state_event(
                    session_id,
                    SessionState.FAILED,
                    3,
                    reason=Reason.TOS_BLOCK,
                    detail="banned",
                )
            )
            return
        await original(session_id)

    monkeypatch.setattr(engine, "start_session", start)
    path = _sheet(
        tmp_path,
        "workspace_id,label,phone\n1,Toko,+62 812 1111 2222\n2,Klinik,\n3,Bengkel,\n",
    )
    code = main(["onboard", str(path), "--by-code", "--phone-scan-sandbox", "--no-qr"])
    out = capsys.readouterr().out
    assert code == 1, out
    assert ("request_pairing_code", ("s-1-0", "6281211112222")) in engine.calls
    assert ("start_session", "s-2-1") in engine.calls, "no phone: a QR"
    assert "Link with phone number" in out and "test phone 6281211112222 typed the code" in out
    assert "terms of service" in out, "the block's message, for the operator"
    rows = list(csv.DictReader((tmp_path / "accounts.csv.results.csv").open(encoding="utf-8")))
    assert [r["result"] for r in rows] == ["connected", "connected", "TOS_BLOCK"]
    assert [c for c in engine.calls if c == ("start_session", blocked)] == [
        ("start_session", blocked)
    ], "never restarted"


@pytest.mark.e2e
def test_sandbox_phone_scans_both_accounts_and_results_say_connected(tmp_path, capsys):
    path = _sheet(tmp_path, "workspace_id,label,phone\n31,Toko Maju,\n32,Klinik Sehat,\n")
    results = tmp_path / "out" / "results.csv"
    results.parent.mkdir()
    code = main(
        [
            "onboard",
            str(path),
            "--phone-scan-sandbox",
            "--results",
            str(results),
            "--time-scale",
            "0.3",
            "--instances",
            "1",
            "--data-dir",
            str(tmp_path / "data"),
            "--sessions-dir",
            str(tmp_path / "sessions"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "[1/2] Toko Maju (ws 31)" in out and "[2/2] Klinik Sehat (ws 32)" in out
    assert "█" in out or "▀" in out  # the QR as terminal art
    rows = list(csv.DictReader(results.open(encoding="utf-8")))
    assert [r["label"] for r in rows] == ["Toko Maju", "Klinik Sehat"]
    assert all(r["result"] == "connected" for r in rows)
    assert all(r["phone"].startswith("6281") and r["session_id"] for r in rows)


def test_the_results_csv_never_writes_a_formula(tmp_path, capsys, engine, monkeypatch):
    """Labels from the sheet reach the results file as text, never as formulas."""
    _walk(monkeypatch, engine)
    path = _sheet(
        tmp_path,
        'workspace_id,label,phone\n1,"=HYPERLINK(""http://x"",""y"")",\n2,@SUM(A1),\n'
        "x,+cmd|calc,\n",
    )
    main(["onboard", str(path), "--yes", "--phone-scan-sandbox", "--no-qr"])
    capsys.readouterr()
    text = (tmp_path / "accounts.csv.results.csv").read_text(encoding="utf-8")
    cells = [c for r in csv.reader(text.splitlines()) for c in r]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    labels = [r["label"] for r in csv.DictReader(text.splitlines())]
    assert labels == ['\'=HYPERLINK("http://x","y")', "'@SUM(A1)", "'+cmd|calc"]


def test_hostile_rows_are_one_line_each_and_unnamed_rows_warn(tmp_path, capsys, no_engine):
    path = _sheet(tmp_path, "workspace_id,label,phone\n٤٢,Toko,\n²,Klinik,\n3,,\n")
    assert main(["onboard", str(path)]) == 2  # rejected rows need --yes (no tty here)
    out = capsys.readouterr().out
    assert "row 2: workspace_id '٤٢' is not a number (digits 0-9 only)" in out
    assert "row 3: workspace_id '²' is not a number (digits 0-9 only)" in out
    assert "warning   row 4: no label and no phone" in out
    assert "Traceback" not in out and not no_engine


def test_an_xlsx_bomb_is_refused_in_one_line(tmp_path, capsys, no_engine):
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
            for _ in range(400):
                sheet.write(b"<row/>" * 100_000)  # 240 MB of XML, about 250 KB on disk
    path = tmp_path / "accounts.xlsx"
    path.write_bytes(buf.getvalue())
    assert main(["onboard", str(path)]) == 2
    err = capsys.readouterr().err
    assert "expands to" in err and "refused unread" in err and "nothing was created" in err
    assert len(err.strip().splitlines()) == 1
    assert not no_engine


def test_a_row_scanned_by_the_wrong_phone_is_logged_out_and_reported(
    tmp_path, capsys, engine, monkeypatch
):
    _walk(monkeypatch, engine)
    monkeypatch.setattr(
        "app.cli._onboard.Walk.test_phone_number", lambda self, sid: "6289900001111"
    )
    path = _sheet(tmp_path, "workspace_id,label,phone\n1,Toko,+62 812 1111 2222\n2,Klinik,\n")
    code = main(["onboard", str(path), "--yes", "--phone-scan-sandbox", "--no-qr"])
    out = capsys.readouterr().out
    expected = "wrong phone: expected +62 812 1111 2222, scanned by +62 899 0000 1111"
    assert code == 1, out
    assert f"✗ Toko (ws 1): {expected}; logged out" in out
    assert ("logout_session", "s-1-0") in engine.calls
    rows = list(csv.DictReader((tmp_path / "accounts.csv.results.csv").open(encoding="utf-8")))
    assert [r["result"] for r in rows] == [expected, "connected"]


@pytest.mark.e2e
def test_real_engine_logs_out_an_account_scanned_by_the_wrong_phone(tmp_path, capsys, monkeypatch):
    """Sandbox and Chromium: the wrong phone links, the session is logged out, the sheet's
    phone stays stored, and the results say why."""
    from app.store import accounts, create_engine_for, session_factory, timeline

    monkeypatch.setattr(
        "app.cli._onboard.Walk.test_phone_number", lambda self, sid: "6289900001111"
    )
    path = _sheet(tmp_path, "workspace_id,label,phone\n33,Toko Salah,+62 812 1111 2222\n")
    data = tmp_path / "data"
    code = main(
        [
            "onboard",
            str(path),
            "--phone-scan-sandbox",
            "--no-qr",
            "--time-scale",
            "0.3",
            "--instances",
            "1",
            "--data-dir",
            str(data),
            "--sessions-dir",
            str(tmp_path / "sessions"),
            "--database-url",
            f"sqlite:///{data / 'pairdesk.db'}",
        ]
    )
    out = capsys.readouterr().out
    expected = "wrong phone: expected +62 812 1111 2222, scanned by +62 899 0000 1111"
    assert code == 1, out
    assert f"✗ Toko Salah (ws 33): {expected}; logged out" in out
    rows = list(csv.DictReader((tmp_path / "accounts.csv.results.csv").open(encoding="utf-8")))
    assert [r["result"] for r in rows] == [expected]
    engine = create_engine_for(f"sqlite:///{data / 'pairdesk.db'}")
    try:
        with session_factory(engine)() as session:
            [stored] = accounts.list_accounts(session)
            states = [e.state for e in timeline.list_events(session, stored.session_id)]
    finally:
        engine.dispose()
    assert stored.phone_number == "6281211112222"
    # Linked (by the wrong phone), then logged out on the spot; the run's end stops it.
    linked = states.index(SessionState.CONNECTED)
    assert SessionState.LOGGED_OUT in states[linked:], states


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (b"workspace_id,label\n1,Toko\n2," + b"x" * 200_000 + b"\n", "row 3: a cell is longer"),
        (b"workspace_id,label\n1,To\x00ko\n", "row 2: label holds a NUL character"),
    ],
    ids=["128KB", "NUL"],
)
def test_a_huge_cell_or_a_nul_byte_is_one_line_naming_the_row(
    tmp_path, capsys, no_engine, data, line
):
    path = tmp_path / "accounts.csv"
    path.write_bytes(data)
    assert main(["onboard", str(path)]) == 2
    out, err = capsys.readouterr()
    assert line in out + err and "Traceback" not in out + err
    assert "nothing was created" in err and not no_engine


def test_a_utf16_sheet_with_a_byte_order_mark_is_read(tmp_path, capsys, no_engine, monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    path = tmp_path / "accounts.csv"
    path.write_bytes("workspace_id,label\n1,Toko Ümit\nx,Bad\n".encode("utf-16"))
    assert main(["onboard", str(path)]) == 2  # one rejected row: asks for --yes
    out = capsys.readouterr().out
    assert "1 row(s) ready, 1 rejected" in out and not no_engine


# ------------------------------------------------------------- a second run on the sheet

FOUR_ROWS = "workspace_id,label,phone\n1,Desk 1,\n2,Desk 2,\n3,Desk 3,\nx,Bad,\n"


def _results(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.open(encoding="utf-8")))


def _created(engine: ScannedEngine) -> list[list[str]]:
    """The labels of the accounts each `add_accounts` call so far created, one list a call."""
    return [[s.label for s in specs] for name, specs in engine.calls if name == "add_accounts"]


def test_a_second_run_continues_the_first_and_keeps_its_results(
    tmp_path, capsys, engine, monkeypatch
):
    """Desk 2 is not linked the first time; the second run walks only Desk 2, with the
    account it has, creates nothing, and keeps the first results file beside the new one."""
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)  # a prompt would refuse: none asked
    _walk(monkeypatch, engine, refused=frozenset({"qr-s-2-1"}))
    path = _sheet(tmp_path, FOUR_ROWS)
    results = tmp_path / "accounts.csv.results.csv"
    argv = ["onboard", str(path), "--phone-scan-sandbox", "--no-qr", "--timeout", "1"]
    assert main([*argv, "--yes"]) == 1
    capsys.readouterr()
    first_text = results.read_text(encoding="utf-8")
    first = _results(results)
    assert [r["result"] for r in first] == ["connected", "timed out", "connected"] + [
        "rejected: workspace_id 'x' is not a number"
    ]
    calls_before = len(engine.calls)

    _walk(monkeypatch, engine)  # this time the customer's phone scans
    code = main(argv)
    out = capsys.readouterr().out
    assert code == 0, out
    assert len(_created(engine)) == 1, "the second run created accounts again"
    second_calls = engine.calls[calls_before:]
    started = [sid for name, sid in second_calls if name == "start_session"]
    assert started == ["s-2-1"], "only the row not linked the first time, with its account"
    assert "2 row(s) connected then, 1 to link again" in out
    assert "✓ Desk 1 (ws 1) connected in the earlier run" in out
    assert "1 account(s) of the earlier run to link again" in out
    assert "✓ Desk 2 (ws 2) connected" in out
    second = _results(results)
    assert [r["result"] for r in second] == ["connected"] * 3 + [first[3]["result"]]
    assert [r["session_id"] for r in second] == [r["session_id"] for r in first]
    assert second[0] == first[0] and second[2] == first[2], "the first run's lines, as they were"
    kept = tmp_path / "accounts.csv.results.1.csv"
    assert kept.read_text(encoding="utf-8") == first_text
    assert f"the earlier results are kept in {kept}" in out
    assert {results.stat().st_mode & 0o777, kept.stat().st_mode & 0o777} == {0o600}, "phones"


def test_a_run_with_every_row_connected_does_nothing_and_a_removed_account_is_made_again(
    tmp_path, capsys, engine, monkeypatch
):
    _walk(monkeypatch, engine)
    path = _sheet(tmp_path, "workspace_id,label,phone\n1,Desk 1,\n2,Desk 2,\n")
    results = tmp_path / "accounts.csv.results.csv"
    argv = ["onboard", str(path), "--phone-scan-sandbox", "--no-qr"]
    assert main(argv) == 0
    first_text = results.read_text(encoding="utf-8")
    capsys.readouterr()

    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "every valid row was connected in the earlier run; nothing to do" in out
    assert len(_created(engine)) == 1
    assert results.read_text(encoding="utf-8") == first_text
    assert not (tmp_path / "accounts.csv.results.1.csv").exists(), "nothing new to record"

    del engine.sessions["s-2-1"]  # removed from the store since (e.g. in the console)
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "Desk 2 (ws 2): its account s-2-1 is no longer stored; creating a new one" in out
    assert _created(engine) == [["Desk 1", "Desk 2"], ["Desk 2"]]
    rows = _results(results)
    assert [(r["session_id"], r["result"]) for r in rows] == [
        ("s-1-0", "connected"),
        ("s-2-0", "connected"),
    ]
    assert (tmp_path / "accounts.csv.results.1.csv").read_text(encoding="utf-8") == first_text


def _other_sheets_results() -> bytes:
    """A run of a sheet whose row 3 is someone else's."""
    from app.domain.import_rows import results_csv

    line = {"result": "connected", "workspace_id": "1", "label": "Desk 1", "session_id": "s-1-0"}
    other = {"workspace_id": "2", "label": "Someone else", "session_id": "s-2-1"}
    return results_csv([{**line, "row": "2"}, {**line, **other, "row": "3"}]).encode()


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (b"", "it is empty"),
        (b"workspace_id,label\n1,Desk 1\n", "not a results file (no row, phone, session_id"),
        (b'"row","workspace_id"\n\xff\xfe\x00oops', "not readable as a results file"),
        (
            b'"row","workspace_id","label","phone","session_id","result","seconds"\n'
            b'"two","1","Desk 1","","s-1-0","connected",""\n',
            "line 2: row 'two' is not a row number",
        ),
        ("another sheet", "row 3: label was 'Someone else', the sheet has 'Desk 2'"),
    ],
    ids=["empty", "a sheet", "not UTF-8", "damaged", "another sheet"],
)
def test_a_results_file_that_is_not_this_sheets_creates_nothing_and_is_left_alone(
    tmp_path, capsys, no_engine, text, why
):
    path = _sheet(tmp_path, "workspace_id,label,phone\n1,Desk 1,\n2,Desk 2,\n")
    results = tmp_path / "accounts.csv.results.csv"
    data = _other_sheets_results() if text == "another sheet" else text
    results.write_bytes(data)
    assert main(["onboard", str(path), "--phone-scan-sandbox", "--no-qr"]) == 2
    out, err = capsys.readouterr()
    assert why in err, err
    assert f"{results} does not match accounts.csv ({why}" in err
    assert "nothing was created" in err and "--results NEW_PATH to start afresh" in err
    assert "Traceback" not in out + err and len(err.strip().splitlines()) == 1
    assert not no_engine
    assert results.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["accounts.csv", results.name]


def test_results_path_is_where_a_run_is_continued_from_and_a_new_one_starts_afresh(
    tmp_path, capsys, engine, monkeypatch
):
    _walk(monkeypatch, engine)
    path = _sheet(tmp_path, "workspace_id,label,phone\n1,Desk 1,\n")
    (tmp_path / "out").mkdir()
    argv = ["onboard", str(path), "--phone-scan-sandbox", "--no-qr", "--results"]
    assert main([*argv, str(tmp_path / "out" / "run.csv")]) == 0
    assert main([*argv, str(tmp_path / "out" / "run.csv")]) == 0
    assert len(_created(engine)) == 1, "continued from out/run.csv"
    assert main([*argv, str(tmp_path / "out" / "fresh.csv")]) == 0
    assert len(_created(engine)) == 2, "a path with no file starts afresh, as asked"
    capsys.readouterr()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["fresh.csv", "run.csv"]
    assert not (tmp_path / "accounts.csv.results.csv").exists()


def test_a_results_path_that_cannot_be_written_creates_nothing(tmp_path, capsys, no_engine):
    path = _sheet(tmp_path, "workspace_id,label,phone\n1,Desk 1,\n")
    missing = tmp_path / "no such folder" / "results.csv"
    assert main(["onboard", str(path), "--results", str(missing)]) == 2
    err = capsys.readouterr().err
    assert f"cannot write the results to {missing}: there is no folder" in err
    assert "nothing was created" in err and not no_engine


@pytest.mark.e2e
def test_real_engine_second_run_links_the_account_the_first_created(tmp_path, capsys):
    """Sandbox and Chromium: nobody scans the first time; the second run finds the account
    in the store, links it with the test phone, and the store still holds one account."""
    from app.store import accounts, create_engine_for, session_factory

    path = _sheet(tmp_path, "workspace_id,label,phone\n34,Toko Lagi,\n")
    data = tmp_path / "data"
    database = f"sqlite:///{data / 'pairdesk.db'}"
    argv = ["onboard", str(path), "--no-qr", "--time-scale", "0.3", "--instances", "1"]
    argv += ["--data-dir", str(data), "--sessions-dir", str(tmp_path / "sessions")]
    argv += ["--database-url", database]
    assert main([*argv, "--timeout", "1"]) == 1  # no phone scans: given up
    capsys.readouterr()
    results = tmp_path / "accounts.csv.results.csv"
    [first] = _results(results)
    assert first["result"] == "timed out" and first["session_id"]

    code = main([*argv, "--phone-scan-sandbox"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "1 account(s) of the earlier run to link again" in out
    [second] = _results(results)
    assert (second["session_id"], second["result"]) == (first["session_id"], "connected")
    assert [r["result"] for r in _results(tmp_path / "accounts.csv.results.1.csv")] == ["timed out"]
    engine = create_engine_for(database)
    try:
        with session_factory(engine)() as session:
            stored = accounts.list_accounts(session)
    finally:
        engine.dispose()
    assert [a.session_id for a in stored] == [first["session_id"]]
