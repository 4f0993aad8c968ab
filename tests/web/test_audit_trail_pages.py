"""The audit trail: date range, actor and action filters, paging, CSV export (issue 15,
item 9). Use cases on both backends; the page and the export through the app."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select
from tests.web.conftest import MORNING

from forbear.domain.access import Actor, Role
from forbear.domain.errors import PermissionDenied, ValidationError
from forbear.services import audit_trail
from forbear.store import audit
from forbear.store.audit import AuditEvent

OFFICER = Actor("web:compliance1", Role.COMPLIANCE_OFFICER)
ZONE = "Asia/Shanghai"


def _seed(conn) -> None:  # type: ignore[no-untyped-def]
    # 2026-11-18 23:30 in Shanghai is 15:30 UTC: the 18th locally, whatever UTC says
    audit.record(
        conn, action="staff.add", actor="web:admin1", subject_type="staff_user",
        subject_id="901", payload={"role": "agent"}, at=datetime(2026, 11, 18, 15, 30, tzinfo=UTC),
    )  # fmt: skip
    audit.record(
        conn, action="staff.disable", actor='=HYPERLINK("http://evil")',
        subject_type="staff_user", subject_id="@901", payload={},
        at=datetime(2026, 11, 19, 1, 0, tzinfo=UTC),
    )  # fmt: skip


def test_filters_by_local_dates_actor_and_action(db) -> None:  # type: ignore[no-untyped-def]
    _seed(db.conn)
    on_18th = audit_trail.TrailFilter(start=date(2026, 11, 18), end=date(2026, 11, 18), zone=ZONE)
    rows = audit_trail.page(db.conn, OFFICER, page_no=1, chosen=on_18th).rows
    assert [r.action for r in rows] == ["staff.add"]
    by_actor = audit_trail.TrailFilter(actor="ADMIN1", zone=ZONE)
    found = audit_trail.page(db.conn, OFFICER, page_no=1, chosen=by_actor)
    assert found.total == 1 and found.rows[0].actor == "web:admin1"
    # LIKE wildcards in the filter are taken literally
    assert audit_trail.page(db.conn, OFFICER, page_no=1, chosen=audit_trail.TrailFilter(
        actor="%", zone=ZONE)).total == 0  # fmt: skip
    by_action = audit_trail.TrailFilter(action="staff.disable", zone=ZONE)
    assert audit_trail.page(db.conn, OFFICER, page_no=1, chosen=by_action).total == 1
    with pytest.raises(ValidationError):
        audit_trail.TrailFilter(start=date(2026, 11, 19), end=date(2026, 11, 18))
    with pytest.raises(PermissionDenied):
        audit_trail.page(db.conn, Actor("web:agent1", Role.AGENT), page_no=1)


def test_paging_keeps_every_event_once(db) -> None:  # type: ignore[no-untyped-def]
    total = int(db.conn.execute(select(func.count()).select_from(AuditEvent)).scalar_one())
    first = audit_trail.page(db.conn, OFFICER, page_no=1, size=7)
    seen = [r.seq for p in range(1, first.pages + 1)
            for r in audit_trail.page(db.conn, OFFICER, page_no=p, size=7).rows]  # fmt: skip
    assert len(seen) == len(set(seen)) == total == first.total


def test_the_export_is_formula_safe_and_audited(db) -> None:  # type: ignore[no-untyped-def]
    _seed(db.conn)
    chosen = audit_trail.TrailFilter(action="staff.disable", zone=ZONE)
    text = audit_trail.export_csv(db.conn, OFFICER, chosen, now=MORNING)
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == list(audit_trail.COLUMNS)
    assert len(rows) == 2
    assert rows[1][2].startswith("'=HYPERLINK") and rows[1][5] == "'@901"
    assert rows[1][1] == "2026-11-19T09:00:00+08:00"
    t = AuditEvent
    last = db.conn.execute(
        select(t.action, t.actor, t.payload).order_by(t.seq.desc()).limit(1)
    ).one()
    assert (last.action, last.actor) == ("audit.export", "web:compliance1")
    assert '"rows":1' in last.payload


def test_the_page_filters_pages_and_exports(client, sign_in, db) -> None:  # type: ignore[no-untyped-def]
    _seed(db.conn)
    officer = sign_in("compliance1")
    page = officer.get("/compliance/audit", params={"actor": "admin1", "start": "2026-11-18"})
    assert page.status_code == 200
    assert '网页：<span translate="no">admin1</span>' in page.text and "新增员工" in page.text
    assert 'href="/compliance/audit.csv?start=2026-11-18&amp;actor=admin1"' in page.text
    bad = officer.get("/compliance/audit", params={"start": "18/11/2026"})
    assert bad.status_code == 422 and ("YYYY-MM-DD" in bad.text or "日期" in bad.text)
    export = officer.get("/compliance/audit.csv", params={"actor": "admin1"})
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    assert "web:admin1" in export.text
    english = officer.get("/compliance/audit", params={"lang": "en", "actor": "admin1"})
    assert "staff added" in english.text
    assert sign_in("agent1").get("/compliance/audit.csv").status_code == 403
