"""``forbear worker`` through the ``forbear`` command line: one turn with a date asked for, the
options refused, a metrics port already taken refused in one line (SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import socket
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from forbear.cli.main import app
from outreach_book import TEST_KEY, BookDb, runs_of

# its tests on one xdist worker, so that its module-scoped book is built once
pytestmark = pytest.mark.xdist_group("test_worker_cli")


def _env(book: BookDb, data_dir: Path) -> dict[str, str | None]:
    return {
        "FORBEAR_DATA_DIR": str(data_dir),
        "FORBEAR_DATABASE_URL": book.url,
        "FORBEAR_ENCRYPTION_KEY": base64.b64encode(TEST_KEY).decode(),
        "FORBEAR_ENCRYPTION_KEYS": None,
    }


def test_once_with_a_date_runs_it_and_says_so(book_db: BookDb, tmp_path: Path) -> None:
    day = date(2026, 12, 12)
    result = CliRunner().invoke(
        app,
        ["worker", "--once", "--no-dispatch", "--run-now", str(day)],
        env=_env(book_db, tmp_path),
    )
    assert result.exit_code == 0, result.output
    assert f"worker: ran {day}" in result.output
    engine = book_db.engine()
    try:
        assert runs_of(engine, day) == ["completed"]
    finally:
        engine.dispose()


def test_bad_options_are_refused_before_anything_runs(book_db: BookDb, tmp_path: Path) -> None:
    runner = CliRunner()
    for args in (
        ["worker", "--metrics-port", "0"],
        ["worker", "--metrics-port", "70000"],
        ["worker", "--poll", "0"],
        ["worker", "--batch", "0"],
    ):
        result = runner.invoke(app, args, env=_env(book_db, tmp_path))
        assert result.exit_code == 2, (args, result.output)
    result = runner.invoke(
        app, ["worker", "--once", "--run-now", "2026-13-01"], env=_env(book_db, tmp_path)
    )
    assert result.exit_code != 0 and "--run-now" in str(result.exception)


def test_a_metrics_port_in_use_is_refused(book_db: BookDb, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            app,
            ["worker", "--once", "--no-dispatch", "--metrics-port", str(port)],
            env=_env(book_db, tmp_path),
        )
    assert result.exit_code != 0
    assert f"cannot listen on 127.0.0.1:{port}" in str(result.exception)
