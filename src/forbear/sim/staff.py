"""Demo staff accounts: one per role, for ``make demo`` (never for a real deployment).

Demo data, so it lives with the demo book in :mod:`forbear.sim`; ``forbear demo`` calls it.

:func:`seed_staff` creates (or, on a rerun, gives a new password to) one account per role
with a random password, and returns ``(username, role, password)`` for the demo to print;
the passwords exist nowhere else. The agent works the capacity file's first agent
(``zh-001``, team ``phone-zh``) and the supervisor leads that team. The agency agent
belongs to demo agency 1, and the most overdue accounts of the latest book date are
placed with that agency (with the debtor notice logged, CN.AGENCY.NOTIFY_DEBTOR), so it
has work to see.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Connection, func, select

from forbear.domain.access import Role
from forbear.domain.errors import NotFound
from forbear.services import contacts, staff
from forbear.store.contacts import AgencyAssignment
from forbear.store.models import AccountState

DEMO_ACTOR = "demo"
DEMO_AGENCY = 1
AGENCY_ACCOUNTS = 20


class DemoStaff(NamedTuple):
    username: str
    role: Role
    name: str
    agency_id: int | None = None
    agent_ref: str | None = None
    team_id: str | None = None


DEMO_STAFF = (
    DemoStaff("demo.agent", Role.AGENT, "演示催收员 张敏", agent_ref="zh-001", team_id="phone-zh"),
    DemoStaff("demo.supervisor", Role.SUPERVISOR, "演示主管 李强", team_id="phone-zh"),
    DemoStaff("demo.compliance", Role.COMPLIANCE_OFFICER, "演示合规专员 王芳"),
    DemoStaff("demo.legal", Role.LEGAL, "演示法务 赵磊"),
    DemoStaff("demo.agency", Role.AGENCY_AGENT, "演示委外催收员 陈静", agency_id=DEMO_AGENCY),
    DemoStaff("demo.admin", Role.ADMIN, "演示系统管理员 刘洋"),
)


def _password() -> str:
    return secrets.token_urlsafe(12)


def place_with_demo_agency(conn: Connection, now: datetime, accounts: int) -> int:
    """Place the most overdue accounts of the latest book date not yet placed with an
    agency with :data:`DEMO_AGENCY`, the debtor notice logged first. Returns how many."""
    latest = conn.execute(select(func.max(AccountState.as_of))).scalar()
    if latest is None:
        return 0
    placed = select(AgencyAssignment.loan_id)
    loans = conn.execute(
        select(AccountState.loan_id)
        .where(
            AccountState.as_of == latest,
            AccountState.dpd > 30,
            AccountState.loan_id.not_in(placed),
        )
        .order_by(AccountState.dpd.desc(), AccountState.loan_id)
        .limit(accounts)
    ).scalars()
    count = 0
    for loan_id in loans:
        contacts.notify_agency(
            conn, loan_id=loan_id, agency_id=DEMO_AGENCY, at=now, actor=DEMO_ACTOR
        )
        contacts.assign_agency(
            conn, loan_id=loan_id, agency_id=DEMO_AGENCY, at=now, actor=DEMO_ACTOR
        )
        count += 1
    return count


def seed_staff(conn: Connection, now: datetime) -> list[tuple[str, str, str]]:
    """One demo account per role (see the module docstring), in the caller's transaction,
    at ``now`` (the caller's clock)."""
    made: list[tuple[str, str, str]] = []
    for demo in DEMO_STAFF:
        username, role = demo.username, demo.role
        password = _password()
        try:
            staff.get_staff(conn, username)
        except NotFound:
            staff.add_staff(
                conn,
                username=username,
                display_name=demo.name,
                role=role.value,
                password=password,
                actor=DEMO_ACTOR,
                now=now,
                agency_id=demo.agency_id,
                agent_ref=demo.agent_ref,
                team_id=demo.team_id,
            )
        else:
            staff.set_password(conn, username, password, actor=DEMO_ACTOR, now=now)
            found = staff.get_staff(conn, username)
            if found.disabled or found.locked_until is not None:
                staff.enable_staff(conn, username, actor=DEMO_ACTOR, now=now)
        made.append((username, role.value, password))
    already = conn.execute(
        select(func.count()).where(
            AgencyAssignment.agency_id == DEMO_AGENCY, AgencyAssignment.to_at.is_(None)
        )
    ).scalar_one()
    if not already:
        place_with_demo_agency(conn, now, AGENCY_ACCOUNTS)
    return made
