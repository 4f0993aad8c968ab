"""Legal cases on the demo book (``forbear demo``), opened and advanced through the legal
use cases."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection

from forbear.domain.access import Role
from forbear.domain.errors import Conflict
from forbear.domain.legal.proof import s10_check_digit
from forbear.services.legal.cases import advance, open_case
from forbear.services.legal.queue import queue, refresh_queue

DEMO_COURT = "上海市浦东新区人民法院"


def demo_tracking_number(serial: int) -> str:
    """A well-formed EMS item number (UPU S10, with its check digit) for a demo letter."""
    digits = f"{serial % 100_000_000:08d}"
    return f"EA{digits}{s10_check_digit(digits)}CN"


def seed_legal_cases(conn: Connection, as_of: date, *, actor: str = "system:demo") -> int:
    """Refresh the queue on the demo book and open a few cases at various stages (one
    in review, one with a demand letter sent, one filed with a court fee). Returns the
    number of cases opened (fewer when fewer accounts are eligible); a rerun opens none
    for accounts that already have a case."""
    refresh_queue(conn, as_of, actor)
    waiting = [item for item in queue(conn, as_of, include_cases=False)][:3]
    role = Role.LEGAL.value
    opened = 0
    for index, item in enumerate(waiting):
        try:
            case = open_case(conn, item.loan_id, role=role, actor=actor, on=as_of)
        except Conflict:
            continue
        opened += 1
        if index >= 1:
            advance(
                conn,
                case.id,
                "demand_letter",
                role=role,
                actor=actor,
                on=as_of,
                evidence_ref=demo_tracking_number(case.id),
            )
        if index >= 2:
            advance(
                conn,
                case.id,
                "filed",
                role=role,
                actor=actor,
                on=as_of,
                court=DEMO_COURT,
                case_number=f"({as_of.year})沪0115民初{10000 + case.id}号",
                costs=[("court_fee", 25_000)],
            )
    return opened
