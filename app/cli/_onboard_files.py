"""The files of `pairdesk onboard`: the sheet, read and checked row by row
(`read_rows`), and its results file, checked before anything is created, read back
to continue an earlier run of the same sheet, and written whole (`write_private`: a
temporary file renamed over it) with the earlier one kept beside it under the next
free number.

Split from `app.cli._onboard` (the walk), which only calls the four public ones.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from app.cli import UserError
from app.domain.import_rows import (
    EarlierResult,
    ImportFileError,
    ImportRow,
    ResultsFileError,
    parse_bytes,
    read_results,
    results_csv,
)
from app.domain.sheet_files import MAX_FILE_BYTES
from app.permissions import write_private

__all__ = ["check_results_path", "read_earlier", "read_rows", "write_results"]


def read_rows(path: Path) -> list[ImportRow]:
    """The file's rows with their verdicts; a file that cannot be used is a `UserError`."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:  # refused before reading it into memory
            raise UserError(
                f"{path.name}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MB; split it "
                "into several files; nothing was created"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        rows = parse_bytes(path.name, data)
    except ImportFileError as exc:
        raise UserError(f"{path.name}: {exc}; nothing was created") from None
    if not rows:
        raise UserError(f"{path.name}: no data rows under the header; nothing was created")
    return rows


def check_results_path(results: Path) -> None:
    """The results (and the copy of earlier ones) can be written there; else a `UserError`."""
    folder = results.parent
    why = ""
    if results.is_dir():
        why = "it is a folder"
    elif not folder.is_dir():
        why = f"there is no folder {folder}"
    elif not os.access(folder, os.W_OK):
        why = f"the folder {folder} is not writable"
    if why:
        raise UserError(
            f"cannot write the results to {results}: {why}; nothing was created. "
            "Pass --results with a file in a folder you can write to"
        )


def read_earlier(results: Path, sheet: Path, rows: Sequence[ImportRow]) -> dict[int, EarlierResult]:
    """The earlier run's result of every row, from its results file; {} when there is none.

    A file that is not this sheet's results is a `UserError`: nothing is created and
    the file is left as it is, since guessing would create accounts twice."""
    try:
        size = results.stat().st_size
        data = results.read_bytes() if size <= MAX_FILE_BYTES else b""  # no 1 GB into memory
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise UserError(
            f"cannot read the earlier results {results}: {exc.strerror or exc}; nothing was "
            "created. Make the file readable, or pass --results NEW_PATH to start afresh"
        ) from None
    try:
        if not data:
            raise ResultsFileError(
                "it is empty" if not size else f"larger than {MAX_FILE_BYTES // 2**20} MB"
            )
        return read_results(results.name, data, rows)
    except ResultsFileError as exc:
        raise UserError(
            f"{results} does not match {sheet.name} ({exc}): it is another sheet's results, "
            "or was damaged, or the sheet was edited since; nothing was created and the file "
            "was left as it is. Put rows to add in a new sheet; pass --results with this "
            "sheet's results file to continue its run, or --results NEW_PATH to start afresh "
            "(every valid row then gets a new account, beside any an earlier run created)"
        ) from None


def write_results(results: Path, lines: list[dict[str, str]]) -> Path | None:
    """Write the results; a results file already there is first copied beside it under
    the next free number (`X.results.1.csv`, `.2`...), and that copy is returned.

    Written whole and renamed over (`write_private`): at every moment `results` holds a
    whole results file (the earlier one or the new one), which the next run continues."""
    data = results_csv(lines).encode("utf-8")
    kept: Path | None = None
    try:
        if results.exists():
            kept = _keep_copy(results)
        write_private(results, data)
    except OSError as exc:
        if kept is not None:  # `results` was not replaced: the copy would only repeat it
            kept.unlink(missing_ok=True)
        after = (
            "the file there still holds the earlier results, so the next run of this sheet "
            "walks this run's rows again"
            if results.exists()
            else "without it the next run of this sheet would create them again"
        )
        raise UserError(
            f"could not write the results to {results}: {exc.strerror or exc}. The accounts "
            f"of this run exist all the same (the console's Sessions view lists them), but "
            f"{after}; free space or fix the folder's permissions first"
        ) from None
    return kept


def _keep_copy(results: Path) -> Path:
    n = 1
    while True:
        copy = results.with_name(f"{results.stem}.{n}{results.suffix}")
        try:
            write_private(copy, results.read_bytes(), exclusive=True)
        except FileExistsError:  # an earlier copy: never written over
            n += 1
            continue
        return copy
