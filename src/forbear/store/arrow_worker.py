"""The Arrow reader of a SQLite snapshot, and the bulk writer of the daily run's largest
tables, in a process of its own (:mod:`forbear.store.snapshot` starts and drives it).

Why a process: the ADBC SQLite driver carries its own copy of SQLite, and two copies of
SQLite in ONE process must never open the same database file. Locks on a file are held
per process (POSIX advisory locks): when one copy closes its handle, the kernel drops the
locks the other copy holds on that file, and a writer elsewhere can then checkpoint over
pages a reader still uses ("How To Corrupt An SQLite Database File", 2.2.1). A test
reproduced it here (``disk I/O error`` in a writer). In a process of its own the driver
is one more client of the database, like any other. The process is started from this
file's path (``python -P``), so it imports the driver and pyarrow and nothing of
Forbear's: about a third of a second instead of a second and more.

Protocol (binary, over the worker's standard input and output): each request is a 4-byte
big-endian length and a JSON object; each answer is one status byte (``K`` done, ``A`` an
Arrow IPC stream follows, ``E`` an error message follows), an 8-byte big-endian length and
the payload.

- ``{"op": "begin"}`` begins a deferred transaction and makes its first read (from then on
  it reads one snapshot); ``{"op": "read", "sql": ..., "params": [...]}`` answers an Arrow
  stream; ``{"op": "end"}`` rolls the transaction back (the worker then holds no snapshot
  and waits for the next request: one worker serves snapshots one after the other).
- ``{"op": "stage", "stage": name, "size": bytes}``, followed by an Arrow IPC stream:
  its rows are appended to the temporary table of that name on the worker's own
  connection (no transaction on the database, no lock).
- ``{"op": "write", "steps": [...]}`` runs its steps (``{"sql": ..., "params": [...]}``,
  and ``{"staged": name, "into": table, "columns": [...]}``: the rows staged under the
  name inserted with one ``INSERT ... SELECT``; with ``"key": [...]`` and ``"scope":
  {"sql": ..., "params": [...]}`` as well, they replace the rows the scope selects) in
  ONE ``BEGIN IMMEDIATE`` transaction and commits; any error rolls it all back. Foreign
  keys are enforced, as on the application's connections. Staged rows are dropped when a
  ``write`` ends (committed or not) and on ``end``.

End of input rolls back what is open and ends the worker. Error messages name the
exception class only: a driver's message can quote a row.
"""

from __future__ import annotations

import json
import struct
import sys
from typing import Any, BinaryIO

# Every result in one batch: ADBC infers each column's type from its first batch, and a
# column null in its first rows would otherwise be typed too early.
BATCH_ROWS = str(2**30)


def _answer(out: BinaryIO, status: bytes, payload: Any = b"") -> None:
    out.write(status + struct.pack(">Q", len(payload)))
    out.write(payload)
    out.flush()


def _request(inp: BinaryIO) -> dict[str, Any] | None:
    head = inp.read(4)
    if len(head) < 4:
        return None
    (size,) = struct.unpack(">I", head)
    request: dict[str, Any] = json.loads(inp.read(size))
    return request


class _Connection:
    """The driver's own statement API (``adbc_driver_manager``), not its DB-API module:
    that one imports ``pyarrow.dataset``, pandas and polars, which tripled the worker's
    start (0.43 s against 0.14 s of CPU, paid by every run twice, beside its start)."""

    def __init__(self, path: str) -> None:
        import adbc_driver_manager as adbc
        import adbc_driver_sqlite
        import pyarrow as pa

        self._adbc, self.pa = adbc, pa
        self._database = adbc_driver_sqlite.connect(path)
        # ADBC connections commit each statement (autocommit): every transaction is begun
        # and ended here, explicitly
        self._conn = adbc.AdbcConnection(self._database)

    def _statement(self, sql: str, params: list[Any] | None) -> Any:
        statement = self._adbc.AdbcStatement(self._conn)
        try:
            statement.set_sql_query(sql)
            if params:
                statement.bind(self._parameters(params))
        except BaseException:
            statement.close()
            raise
        return statement

    def _parameters(self, params: list[Any]) -> Any:
        """A statement's parameters (JSON's values: None, booleans, integers, floats and
        text) as a one-row record batch, each column built from its buffers: converting
        Python values (``pa.array``) makes pyarrow import pandas to check whether they
        are pandas objects, 0.25 CPU s at each worker's first statement with parameters."""
        pa = self.pa
        columns = []
        for value in params:
            if value is None:
                columns.append(pa.nulls(1))
            elif isinstance(value, bool | int):
                data = pa.py_buffer(struct.pack("<q", int(value)))
                columns.append(pa.Array.from_buffers(pa.int64(), 1, [None, data]))
            elif isinstance(value, float):
                data = pa.py_buffer(struct.pack("<d", value))
                columns.append(pa.Array.from_buffers(pa.float64(), 1, [None, data]))
            elif isinstance(value, str):
                text = value.encode()
                offsets = pa.py_buffer(struct.pack("<ii", 0, len(text)))
                columns.append(
                    pa.Array.from_buffers(pa.string(), 1, [None, offsets, pa.py_buffer(text)])
                )
            else:
                raise TypeError(f"a parameter of type {type(value).__name__}")
        return pa.RecordBatch.from_arrays(columns, names=[str(i) for i in range(len(params))])

    def execute(self, sql: str, params: list[Any] | None = None) -> None:
        """Run a statement whose rows, if any, are not wanted."""
        statement = self._statement(sql, params)
        try:
            statement.execute_update()
        finally:
            statement.close()

    def query(self, sql: str, params: list[Any] | None = None) -> Any:
        """A statement's rows, as one Arrow table."""
        statement = self._statement(sql, params)
        try:
            statement.set_options(**{"adbc.sqlite.query.batch_rows": BATCH_ROWS})
            stream, _ = statement.execute_query()
            return self.pa.RecordBatchReader._import_from_c(stream.address).read_all()
        finally:
            statement.close()

    def ingest(self, table: str, rows: Any) -> None:
        """Append ``rows`` to the temporary table ``table``, created if need be."""
        adbc = self._adbc
        statement = adbc.AdbcStatement(self._conn)
        try:
            statement.set_options(
                **{
                    adbc.INGEST_OPTION_TARGET_TABLE: table,
                    adbc.INGEST_OPTION_MODE: "adbc.ingest.mode.create_append",
                    adbc.StatementOptions.INGEST_TEMPORARY.value: "true",
                }
            )
            statement.bind_stream(rows)
            statement.execute_update()
        finally:
            statement.close()

    def close(self) -> None:
        self._conn.close()
        self._database.close()


def serve(path: str, inp: BinaryIO, out: BinaryIO, busy_timeout_ms: int = 30_000) -> None:
    conn = _Connection(path)
    pa = conn.pa
    execute = conn.execute
    execute("PRAGMA foreign_keys=ON")
    execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    execute("PRAGMA temp_store=MEMORY")  # the staged rows (op "stage")
    open_transaction = False
    staged: set[str] = set()  # names of the temporary tables holding staged rows

    try:
        while (request := _request(inp)) is not None:
            op = request["op"]
            if op == "write":
                try:
                    _write(conn, execute, request["steps"])
                    _answer(out, b"K")
                except Exception as exc:  # reported to the caller, who raises
                    _answer(out, b"E", type(exc).__name__.encode())
                finally:
                    _unstage(execute, staged)
                continue
            if op == "stage":
                payload = inp.read(int(request["size"]))
                try:
                    staged.add(_stage(conn, request["stage"], payload))
                    _answer(out, b"K")
                except Exception as exc:  # reported to the caller, who raises
                    _answer(out, b"E", type(exc).__name__.encode())
                continue
            try:
                if op == "end":
                    if open_transaction:
                        execute("ROLLBACK")
                        open_transaction = False
                    _unstage(execute, staged)
                    _answer(out, b"K")
                    continue
                if op == "begin":
                    if not open_transaction:
                        execute("BEGIN")
                        open_transaction = True
                    conn.query("SELECT count(*) FROM sqlite_master")  # the snapshot starts
                    _answer(out, b"K")
                    continue
                table = conn.query(request["sql"], request["params"] or None)
                sink = pa.BufferOutputStream()
                with pa.ipc.new_stream(sink, table.schema) as writer:
                    writer.write_table(table)
                del table
                _answer(out, b"A", sink.getvalue())  # the buffer itself, not a copy
            except Exception as exc:  # reported to the caller, who raises
                _answer(out, b"E", type(exc).__name__.encode())
    finally:
        try:
            if open_transaction:
                execute("ROLLBACK")
        finally:
            conn.close()


def _write(conn: _Connection, execute: Any, steps: list[dict[str, Any]]) -> None:
    """The steps of one ``write`` request in one transaction: all or nothing. Staging the
    rows first and moving them with one ``INSERT ... SELECT`` takes about half the time of
    ingesting them straight into the table (the 100,000 book's states: 0.30 CPU s against
    0.61)."""
    execute("BEGIN IMMEDIATE")  # waits up to the busy timeout for the write lock
    try:
        for step in steps:
            if "staged" in step:
                stage = _stage_table(step["staged"])
                there = _exists(conn, stage)  # False: nothing staged under the name
                if "scope" in step:
                    _replace_staged(conn, step, stage if there else None)
                elif there:
                    execute(_insert_staged(step["into"], stage, step["columns"]))
            else:
                execute(step["sql"], step.get("params"))
        execute("COMMIT")
    except BaseException:
        execute("ROLLBACK")
        raise


def _replace_staged(conn: _Connection, step: dict[str, Any], stage: str | None) -> None:
    """The rows of ``step["into"]`` that ``step["scope"]`` selects replaced by the staged
    rows (``stage``; None: no rows), which carry every column of the table and whose
    primary key is ``step["key"]``. Where the scope holds no rows yet (a date's first run)
    they are inserted; where it does (a date run again) rows are changed only where they
    differ -- an upsert that leaves equal rows alone -- and the scope's rows not staged
    are deleted. Deleting the scope and inserting it again cost the 100,000 book's states
    and scores twice as much (1.39 CPU s against 0.76) when the date was run again."""
    target, columns, key = _quoted(step["into"]), step["columns"], step["key"]
    scope, params = step["scope"]["sql"], step["scope"]["params"]
    if stage is None:
        conn.execute(f"DELETE FROM main.{target} WHERE {scope}", params)
        return
    if not conn.query(f"SELECT 1 FROM main.{target} WHERE {scope} LIMIT 1", params).num_rows:
        conn.execute(_insert_staged(step["into"], stage, columns))
        return
    names = ", ".join(_quoted(c) for c in columns)
    keys = ", ".join(_quoted(c) for c in key)
    rest = [_quoted(c) for c in columns if c not in key]
    if rest:
        changes = ", ".join(f"{c} = excluded.{c}" for c in rest)
        differs = " OR ".join(f"{target}.{c} IS NOT excluded.{c}" for c in rest)
        on_conflict = f"DO UPDATE SET {changes} WHERE {differs}"
    else:
        on_conflict = "DO NOTHING"
    conn.execute(
        f"INSERT INTO main.{target} ({names}) SELECT {names} FROM temp.{stage} WHERE true "
        f"ON CONFLICT ({keys}) {on_conflict}"
    )
    # the scope's rows that no staged row matches, found by the staged rows' primary keys
    # (CROSS JOIN: SQLite walks the staged rows and looks each up, instead of scanning the
    # whole table's key); a row-value ``NOT IN`` cost five times as much (0.51 against
    # 0.07 CPU s for the 100,000 book's 72,000 behaviour scores)
    matched = " AND ".join(f"m.{c} = s.{c}" for c in (_quoted(k) for k in key))
    conn.execute(
        f"DELETE FROM main.{target} WHERE ({scope}) AND rowid NOT IN "
        f"(SELECT m.rowid FROM temp.{stage} AS s CROSS JOIN main.{target} AS m ON {matched})",
        params,
    )
    # the scope now holds one row per staged key: fewer than the staged rows means a key
    # staged twice (which the upsert would have folded into one row, where an insert
    # refuses it) or a row outside the scope; either refuses the whole write
    staged = conn.query(f"SELECT count(*) FROM temp.{stage}").column(0)[0].as_py()
    kept = conn.query(f"SELECT count(*) FROM main.{target} WHERE {scope}", params)
    if kept.column(0)[0].as_py() != staged:
        raise ValueError("staged rows repeat a key or fall outside their scope")


def _insert_staged(target: str, stage: str, columns: list[str]) -> str:
    names = ", ".join(_quoted(c) for c in columns)
    return f"INSERT INTO main.{_quoted(target)} ({names}) SELECT {names} FROM temp.{stage}"


def _stage_table(name: str) -> str:
    """The temporary table of a stage name (letters, digits and underscores only)."""
    if not name or not all(c.isascii() and (c.isalnum() or c == "_") for c in name):
        raise ValueError("a stage name is letters, digits and underscores")
    return f"forbear_staged_{name}"


def _stage(conn: _Connection, name: str, payload: bytes) -> str:
    """Append an Arrow stream's rows to the temporary table of ``name``; its table."""
    table = _stage_table(name)
    conn.ingest(table, conn.pa.ipc.open_stream(payload))
    return table


def _exists(conn: _Connection, table: str) -> bool:
    found = conn.query("SELECT 1 FROM temp.sqlite_master WHERE name = ?", [table])
    return bool(found.num_rows)


def _unstage(execute: Any, staged: set[str]) -> None:
    """Drop the temporary tables of staged rows."""
    for table in sorted(staged):
        execute(f"DROP TABLE IF EXISTS temp.{table}")
    staged.clear()


def _quoted(name: str) -> str:
    """An SQL identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def main(path: str) -> None:  # argv: the database file, then the busy timeout (ms)
    """Serve on a private copy of standard output, with file descriptor 1 sent to standard
    error: whatever a library prints cannot fall into the answers."""
    import os

    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    code = 1
    try:
        serve(path, sys.stdin.buffer, answers, *(int(a) for a in sys.argv[2:3]))
        code = 0
    finally:
        # the transaction is rolled back and the connection closed: leave without the
        # interpreter's teardown (freeing the driver's and pyarrow's memory one object at
        # a time took seconds after a large read, and the run waited for it)
        answers.flush()
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":  # pragma: no cover - run by snapshot.arrow_snapshot
    main(sys.argv[1])
