"""The Arrow reader of a SQLite snapshot, in a process of its own
(:func:`forbear.store.snapshot.arrow_snapshot` starts and drives it).

Why a process: the ADBC SQLite driver carries its own copy of SQLite, and two copies of
SQLite in ONE process must never open the same database file. Locks on a file are held
per process (POSIX advisory locks): when one copy closes its handle, the kernel drops the
locks the other copy holds on that file, and a writer elsewhere can then checkpoint over
pages a reader still uses ("How To Corrupt An SQLite Database File", 2.2.1). A test
reproduced it here (``disk I/O error`` in a writer). In a process of its own the driver
is one more reader of the database, like any other.

Protocol (binary, over the worker's standard input and output): each request is a 4-byte
big-endian length and a JSON object ``{"op": "begin" | "read" | "end", "sql": ...,
"params": [...]}``; each answer is one status byte (``K`` done, ``A`` an Arrow IPC stream
follows, ``E`` an error message follows), an 8-byte big-endian length and the payload.
``begin`` makes the deferred transaction's first read (from then on it reads one
snapshot); ``end`` rolls it back (the worker then holds no snapshot and waits for the next
``begin``: one worker serves the run's snapshots one after the other); end of input rolls
back and ends the worker. Error messages name the exception class only: a
driver's message can quote a row.
"""

from __future__ import annotations

import json
import struct
import sys
from typing import Any, BinaryIO

# Every result in one batch: ADBC infers each column's type from its first batch, and a
# column null in its first rows would otherwise be typed too early.
BATCH_ROWS = str(2**30)


def _answer(out: BinaryIO, status: bytes, payload: bytes = b"") -> None:
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


def serve(path: str, inp: BinaryIO, out: BinaryIO) -> None:
    import adbc_driver_sqlite.dbapi as adbc_sqlite
    import pyarrow as pa

    conn = adbc_sqlite.connect(path)  # autocommit off: a deferred transaction
    try:
        while (request := _request(inp)) is not None:
            cursor = conn.cursor()
            try:
                if request["op"] == "end":
                    conn.rollback()  # the next statement begins a new deferred transaction
                    _answer(out, b"K")
                    continue
                if request["op"] == "begin":
                    cursor.execute("SELECT count(*) FROM sqlite_master")
                    cursor.fetchall()
                    _answer(out, b"K")
                    continue
                cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": BATCH_ROWS})
                cursor.execute(request["sql"], request["params"] or None)
                table = cursor.fetch_arrow_table()
                sink = pa.BufferOutputStream()
                with pa.ipc.new_stream(sink, table.schema) as writer:
                    writer.write_table(table)
                _answer(out, b"A", sink.getvalue().to_pybytes())
            except Exception as exc:  # reported to the caller, who raises
                _answer(out, b"E", type(exc).__name__.encode())
            finally:
                cursor.close()
    finally:
        try:
            conn.rollback()
        finally:
            conn.close()


def main(path: str) -> None:
    """Serve on a private copy of standard output, with file descriptor 1 sent to standard
    error: whatever a library prints cannot fall into the answers."""
    import os

    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    code = 1
    try:
        serve(path, sys.stdin.buffer, answers)
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
