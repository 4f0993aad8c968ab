"""Staff management from the web (issue 15, item 9): add (an initial password shown
once), disable and enable, reset, role and scope; permission in the use case; an admin
cannot disable themselves, and the last admin stays (also when two admins act at once)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.web.committed import Committed, committed_book
from tests.web.conftest import MORNING, SETUP_TIME

from forbear.domain.access import Actor, Role
from forbear.domain.errors import PermissionDenied
from forbear.services import credentials, staff
from forbear.store.audit import AuditEvent
from forbear.store.web import StaffUser


def _token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def _admin(db, name: str) -> Actor:  # type: ignore[no-untyped-def]
    user_id = db.conn.execute(select(StaffUser.id).where(StaffUser.username == name)).scalar_one()
    return Actor(f"web:{name}", Role.ADMIN, user_id=int(user_id))


def test_an_admin_adds_disables_enables_resets_and_changes_a_role(client, sign_in, db) -> None:  # type: ignore[no-untyped-def]
    admin = sign_in("admin1")
    listing = admin.get("/admin/staff")
    assert listing.status_code == 200 and 'data-user="agent1"' in listing.text
    token = _token(listing.text)
    added = admin.post(
        "/admin/staff/add",
        data={
            "csrf_token": token,
            "username": "New.Agent",
            "display_name": "王 新",
            "role": "agent",
            "scope_buckets": ["M1", "M2"],
            "agent_ref": "zh-009",
            "password_mode": "generate",
        },
    )
    assert added.status_code == 200 and "no-store" in added.headers["cache-control"]
    shown = re.search(r'id="initial-password" translate="no"[^>]*>([^<]+)<', added.text)
    assert shown is not None
    row = db.conn.execute(select(StaffUser).where(StaffUser.username == "new.agent")).one()
    assert credentials.verify_password(row.password_hash, shown.group(1))
    assert row.role == "agent" and row.scope_buckets == '["M1", "M2"]'
    assert shown.group(1) not in admin.get("/admin/staff").text  # shown once
    disabled = admin.post(
        "/admin/staff/disable",
        data={"csrf_token": token, "username": "new.agent"},
        follow_redirects=False,
    )
    assert disabled.status_code == 303
    page = admin.get(disabled.headers["location"])
    assert (
        "已停用 new.agent" in page.text
        and 'data-user="new.agent" data-disabled="true"' in page.text
    )
    again = admin.post("/admin/staff/disable", data={"csrf_token": token, "username": "new.agent"})
    assert again.status_code == 409 and "new.agent 已经是停用状态。" in again.text
    assert (
        admin.post(
            "/admin/staff/enable",
            data={"csrf_token": token, "username": "new.agent"},
            follow_redirects=False,
        ).status_code
        == 303
    )
    reset = admin.post("/admin/staff/reset", data={"csrf_token": token, "username": "new.agent"})
    fresh = re.search(r'id="initial-password" translate="no"[^>]*>([^<]+)<', reset.text)
    assert fresh is not None and fresh.group(1) != shown.group(1)
    edit = admin.get("/admin/staff/edit", params={"u": "new.agent"})
    assert edit.status_code == 200
    moved = admin.post(
        "/admin/staff/role",
        data={
            "csrf_token": token,
            "username": "new.agent",
            "role": "agency_agent",
            "agency": "7",
        },
        follow_redirects=False,
    )
    assert moved.status_code == 303
    role, agency = db.conn.execute(
        select(StaffUser.role, StaffUser.agency_id).where(StaffUser.username == "new.agent")
    ).one()
    assert (role, agency) == ("agency_agent", 7)
    actions = [
        a
        for (a,) in db.conn.execute(
            select(AuditEvent.action)
            .where(AuditEvent.actor == "web:admin1")
            .order_by(AuditEvent.seq)
        )
    ]
    assert actions == ["staff.add", "staff.disable", "staff.enable", "staff.password", "staff.role"]


def test_refusals_sit_beside_their_field_and_keep_the_values(client, sign_in, db) -> None:  # type: ignore[no-untyped-def]
    admin = sign_in("admin1")
    token = _token(admin.get("/admin/staff").text)
    bad = admin.post(
        "/admin/staff/add",
        data={
            "csrf_token": token,
            "username": "x",
            "display_name": "李 四",
            "role": "agent",
            "password_mode": "generate",
        },
    )
    assert bad.status_code == 422 and 'id="err-username"' in bad.text
    assert 'value="李 四"' in bad.text
    agency = admin.post(
        "/admin/staff/add",
        data={
            "csrf_token": token,
            "username": "agency.x",
            "display_name": "李 四",
            "role": "agency_agent",
            "password_mode": "generate",
        },
    )
    assert agency.status_code == 422 and 'id="err-agency"' in agency.text
    weak = admin.post(
        "/admin/staff/add",
        data={
            "csrf_token": token,
            "username": "weak.one",
            "display_name": "李 四",
            "role": "agent",
            "password_mode": "own",
            "password": "weak.one12345",
        },
    )
    assert weak.status_code == 422 and 'id="err-password"' in weak.text
    taken = admin.post(
        "/admin/staff/add",
        data={
            "csrf_token": token,
            "username": "agent1",
            "display_name": "李 四",
            "role": "agent",
        },
    )
    assert taken.status_code == 422 and "用户名 agent1 已存在。" in taken.text
    names = {"x", "agency.x", "weak.one"}
    assert not db.conn.execute(select(StaffUser.id).where(StaffUser.username.in_(names))).all()


def test_an_admin_cannot_disable_or_demote_themselves_nor_the_last_admin(
    client, sign_in, db
) -> None:  # type: ignore[no-untyped-def]
    admin = sign_in("admin1")
    token = _token(admin.get("/admin/staff").text)
    own = admin.post("/admin/staff/disable", data={"csrf_token": token, "username": "admin1"})
    assert own.status_code == 409 and "不能停用或降级您自己的账号。" in own.text
    demote = admin.post(
        "/admin/staff/role", data={"csrf_token": token, "username": "admin1", "role": "agent"}
    )
    assert demote.status_code == 409
    staff.add_staff(
        db.conn,
        username="admin2",
        display_name="管理员 二",
        role="admin",
        actor="test",
        now=SETUP_TIME,
        password="another Long pass 42",
    )
    # admin2 disables admin1; then admin1 is the one who cannot go, seen by admin2
    staff.disable_staff(db.conn, "admin1", actor=_admin(db, "admin2"), now=MORNING)
    with pytest.raises(staff.StaffConflict) as last:
        staff.change_role(db.conn, "admin2", role="agent", actor="cli:root", now=MORNING)
    assert last.value.code == "last_admin"
    with pytest.raises(PermissionDenied):
        staff.disable_staff(
            db.conn, "agent1", actor=Actor("web:super1", Role.SUPERVISOR), now=MORNING
        )
    assert sign_in("super1").get("/admin/staff").status_code == 403


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def committed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Committed]:
    with committed_book(request, request.param, tmp_path) as found:
        yield found


def test_two_admins_disabling_each_other_at_once_leave_one(committed: Committed) -> None:
    forbear = committed.forbear
    with forbear.transaction() as conn:
        staff.add_staff(
            conn,
            username="admin2",
            display_name="管理员 二",
            role="admin",
            actor="test",
            now=SETUP_TIME,
        )
        ids = dict(
            conn.execute(
                select(StaffUser.username, StaffUser.id).where(
                    StaffUser.username.in_(["admin1", "admin2"])
                )
            ).all()
        )
    pairs = [("admin1", "admin2"), ("admin2", "admin1")]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def run(actor: str, target: str) -> None:
        barrier.wait()
        try:
            with forbear.transaction() as conn:
                staff.disable_staff(
                    conn,
                    target,
                    now=MORNING,
                    actor=Actor(f"web:{actor}", Role.ADMIN, user_id=ids[actor]),
                )
            outcomes.append("disabled")
        except staff.StaffConflict as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=run, args=p) for p in pairs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["disabled", "last_admin"]
    with forbear.transaction() as conn:
        enabled = (
            conn.execute(
                select(StaffUser.username).where(
                    StaffUser.role == "admin", StaffUser.disabled.is_(False)
                )
            )
            .scalars()
            .all()
        )
    assert len(enabled) == 1
