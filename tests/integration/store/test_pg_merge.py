"""``bulk.PgMerge`` on a table whose every column is its key (``complaint_contacts``): a
date run again merges such rows too. Equal rows are left alone, new ones inserted, the
ones no part carried deleted; a key given twice refuses the write. PostgreSQL only (the
merge is PostgreSQL's; SQLite upserts staged rows, tests/integration/batch)."""

from __future__ import annotations

import polars as pl
import pytest
from sqlalchemy import Connection, Engine, select, true

from forbear.store import bulk
from forbear.store.complaints import ComplaintContact

pytestmark = pytest.mark.postgres


def _pairs(conn: Connection) -> list[tuple[int, int]]:
    rows = conn.execute(
        select(ComplaintContact.complaint_id, ComplaintContact.contact_attempt_id).order_by(
            ComplaintContact.complaint_id, ComplaintContact.contact_attempt_id
        )
    )
    return [(a, b) for a, b in rows]


def _frame(pairs: list[tuple[int, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        {"complaint_id": [a for a, _ in pairs], "contact_attempt_id": [b for _, b in pairs]},
        schema={"complaint_id": pl.Int64, "contact_attempt_id": pl.Int64},
    )


def _merge(conn: Connection, name: str, *parts: list[tuple[int, int]]) -> None:
    # a merge's temporary tables live until the transaction ends: one name per merge
    scope = bulk.Replacement(ComplaintContact.__tablename__, true(), _frame([]))
    merge = bulk.PgMerge(conn, scope, name)
    for part in parts:
        merge.add(_frame(part))
    merge.finish()


def test_rows_that_are_all_key_are_merged(pg_engine: Engine) -> None:
    with pg_engine.connect() as conn:
        conn.begin()
        try:
            # the rows' complaints and attempts are beside the point: their foreign keys
            # are not checked in this transaction (rolled back at the end)
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            conn.execute(ComplaintContact.__table__.delete())
            before = [(1, 10), (1, 11), (2, 20)]
            conn.execute(
                ComplaintContact.__table__.insert(),
                [{"complaint_id": a, "contact_attempt_id": b} for a, b in before],
            )
            _merge(conn, "first", [(1, 10), (3, 30)], [(2, 20)])  # (1, 11) gone, (3, 30) new
            assert _pairs(conn) == [(1, 10), (2, 20), (3, 30)]

            # (1, 10) twice: refused, and what the merge had written is undone
            with pytest.raises(ValueError, match="repeat a key"), conn.begin_nested():
                _merge(conn, "again", [(1, 10), (4, 40)], [(1, 10)])
            assert _pairs(conn) == [(1, 10), (2, 20), (3, 30)]
        finally:
            conn.rollback()
