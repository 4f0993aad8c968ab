"""The daily run reads the account flags once when it can (issue 12, "anything read
twice"): the gate judges flags at the day's contact moment, the ACCOUNT frame at the
day's end; :func:`forbear.batch.inputs.flags_at` hands the gate the ACCOUNT frame's
flags unless a placement, notice, demand, assignment or unreachable moment lies between
the two moments, and the flags it gives always equal a fresh read at the gate's moment."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from polars.testing import assert_frame_equal
from sqlalchemy import Connection

from factories import import_three_loans
from forbear.batch import inputs
from forbear.batch.inputs import flags_at
from forbear.services import contacts as svc
from forbear.store import contacts as store
from forbear.store.crypto import PiiVault

SHANGHAI = ZoneInfo("Asia/Shanghai")
ACTOR = "agent:7"


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).astimezone(UTC)


GATE_AT = local("2026-03-10 09:00")  # the gate's moment
DAY_END = local("2026-03-10 23:59")  # the ACCOUNT frame's


@pytest.fixture
def loans(connection: Connection, vault: PiiVault, tmp_path: Path) -> dict[str, int]:
    return import_three_loans(connection, vault, tmp_path)


def _reused(conn: Connection) -> bool:
    """Were the ACCOUNT frame's flags handed on? (Either way the answer must equal a read
    at the gate's moment.)"""
    known = store.read_flags(conn, at=DAY_END)
    got = flags_at(conn, GATE_AT, known, DAY_END)
    assert_frame_equal(got, store.read_flags(conn, at=GATE_AT), check_exact=True)
    return got is known


def test_nothing_between_the_moments_reuses_the_flags(
    connection: Connection, loans: dict[str, int]
) -> None:
    loan = loans["L0002"]
    # facts before both moments and after both: the same flags at either moment
    svc.assign_agency(
        connection, loan_id=loan, agency_id=5, at=local("2026-03-02 09:00"), actor=ACTOR
    )
    svc.notify_agency(
        connection, loan_id=loan, agency_id=5, at=local("2026-03-01 09:00"), actor=ACTOR
    )
    svc.log_demand(
        connection,
        loan_id=loan,
        at=local("2026-03-11 10:00"),
        channel="letter",
        evidence_ref="EMS-1",
        actor=ACTOR,
    )
    assert _reused(connection)
    known = store.read_flags(connection, at=DAY_END)
    assert flags_at(connection, DAY_END, known, DAY_END) is known  # the same moment


@pytest.mark.parametrize(
    "fact", ["placement", "placement_end", "notice", "demand", "assigned", "unreachable"]
)
@pytest.mark.parametrize("only_theirs", [False, True], ids=["whole_book", "their_borrowers"])
def test_a_fact_between_the_moments_reads_again(
    connection: Connection,
    loans: dict[str, int],
    fact: str,
    only_theirs: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # on a big book only the borrowers with a fact between the moments are read again;
    # on this three-loan book one loan is a third of it, so that path is forced here
    monkeypatch.setattr(inputs, "REREAD_ALL_ABOVE", 1.0 if only_theirs else 0.0)
    loan = loans["L0002"]
    between = local("2026-03-10 15:00")
    if fact == "placement":
        svc.assign_agency(connection, loan_id=loan, agency_id=5, at=between, actor=ACTOR)
    elif fact == "placement_end":
        svc.assign_agency(
            connection, loan_id=loan, agency_id=5, at=local("2026-03-01 09:00"), actor=ACTOR
        )
        svc.assign_agency(connection, loan_id=loan, agency_id=6, at=between, actor=ACTOR)
    elif fact == "notice":
        svc.assign_agency(
            connection, loan_id=loan, agency_id=5, at=local("2026-03-01 09:00"), actor=ACTOR
        )
        svc.notify_agency(connection, loan_id=loan, agency_id=5, at=between, actor=ACTOR)
    elif fact == "demand":
        svc.log_demand(
            connection,
            loan_id=loan,
            at=between,
            channel="letter",
            evidence_ref="EMS-2",
            actor=ACTOR,
        )
    else:
        column = "assigned_at" if fact == "assigned" else "debtor_unreachable_since"
        connection.execute(
            store.AccountFlags.__table__.insert().values(
                loan_id=loan, updated_at=between, updated_by=ACTOR, **{column: between}
            )
        )
    assert not _reused(connection)
    # the flags really differ at the two moments for the facts the FLAGS columns show
    if fact in ("placement", "placement_end", "demand", "assigned", "unreachable"):
        assert not store.read_flags(connection, at=GATE_AT).equals(
            store.read_flags(connection, at=DAY_END)
        )


def test_flags_with_the_runs_last_due_dates_equal_a_read_of_the_schedules(
    connection: Connection, loans: dict[str, int]
) -> None:
    """The daily run hands read_flags each loan's last due date from the schedules it has
    read (no second grouping of every instalment): the rows are the query's own, a loan
    without instalments included."""
    import polars as pl

    from forbear.store import bulk

    last_due = (
        bulk.read_instalments(connection)
        .group_by("loan_id")
        .agg(last_due_date=pl.col("due_date").max())
        .filter(pl.col("loan_id") != loans["L0003"])  # as if it had no schedule
    )
    fresh = store.read_flags(connection, at=DAY_END)
    given = store.read_flags(connection, at=DAY_END, last_due=last_due)
    assert given.filter(pl.col("loan_id") == loans["L0003"])["last_due_date"].to_list() == [None]
    mine = pl.col("loan_id") != loans["L0003"]
    assert_frame_equal(given.filter(mine), fresh.filter(mine), check_exact=True)
    assert fresh["last_due_date"].null_count() == 0
    assert given.columns == fresh.columns
