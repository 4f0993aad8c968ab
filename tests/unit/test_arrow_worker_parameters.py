"""The SQLite worker's statement parameters (forbear.store.arrow_worker): every kind a
request carries binds as SQLite reads it, and binding imports nothing more (pyarrow's
conversion of Python values would import pandas: a quarter of a CPU second per worker)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from forbear.store import arrow_worker
from forbear.store.arrow_worker import _Connection


def test_parameters_of_every_kind_bind_as_sqlite_reads_them(tmp_path: Path) -> None:
    conn = _Connection(str(tmp_path / "params.db"))
    try:
        params = [None, True, False, 42, -(2**62), 2.5, "逾期 2026-06-15", ""]
        sql = "SELECT " + ", ".join(f"? AS c{i}" for i in range(len(params)))
        row = conn.query(sql, params).to_pylist()[0]
        assert list(row.values()) == [None, 1, 0, 42, -(2**62), 2.5, "逾期 2026-06-15", ""]
        conn.execute("CREATE TABLE t (d TEXT, n INTEGER)")
        conn.execute("INSERT INTO t VALUES (?, ?)", ["2026-06-15", 7])
        found = conn.query("SELECT n FROM t WHERE d = ?", ["2026-06-15"]).to_pylist()
        assert found == [{"n": 7}]
    finally:
        conn.close()


def test_a_parameter_of_another_kind_is_refused(tmp_path: Path) -> None:
    conn = _Connection(str(tmp_path / "params.db"))
    try:
        with pytest.raises(TypeError, match="bytes"):
            conn.query("SELECT ?", [b"raw"])
    finally:
        conn.close()


def test_the_worker_binds_parameters_without_importing_pandas(tmp_path: Path) -> None:
    # the worker runs from its file alone (python -P), as forbear.store.snapshot starts it
    code = (
        "import runpy, sys\n"
        f"worker = runpy.run_path({str(Path(arrow_worker.__file__))!r})\n"
        f"conn = worker['_Connection']({str(tmp_path / 'params.db')!r})\n"
        "conn.query('SELECT ?, ?, ?', ['2026-06-15', 3, None])\n"
        "print('pandas' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-P", "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "False"
