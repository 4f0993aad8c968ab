"""The compliance console's pages: the complaints queue with SLA clocks, a complaint and
its actions, blocked contacts by rule with the drill-down, the rules in force, the audit
trail with verification, template review and the case library; who may open which, CSRF
on every form, bad input writing nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from clocks import SETUP_AT
from forbear.services import complaints as svc
from forbear.services import contacts
from forbear.services.templates import save_template
from forbear.store.audit import AuditEvent
from forbear.store.complaints import CaseEntry, Complaint
from forbear.store.models import Loan

TEXT = "借款人称催收员态度恶劣"


def complaint(db, loan: int, *, at: datetime | None = None, category: str = "attitude") -> int:  # type: ignore[no-untyped-def]
    borrower = db.conn.execute(select(Loan.borrower_id).where(Loan.id == loan)).scalar_one()
    return svc.file_complaint(
        db.conn,
        db.vault,
        borrower_id=borrower,
        loan_id=loan,
        source="agent",
        category=category,
        description=TEXT,
        actor="test",
        now=at or datetime(2026, 11, 19, 2, 0, tzinfo=UTC),
    )


def counts(db):  # type: ignore[no-untyped-def]
    return tuple(
        db.conn.execute(select(func.count()).select_from(t)).scalar_one()
        for t in (AuditEvent, Complaint, CaseEntry)
    )


def test_the_console_shows_the_queue_with_clocks_overdue_first(client, sign_in, book, db) -> None:
    late = complaint(db, book.other_loan, at=datetime(2026, 10, 20, 2, tzinfo=UTC))
    fresh = complaint(db, book.queue_loan)
    page = sign_in("compliance1").get("/compliance")
    assert page.status_code == 200
    assert "合规控制台" in page.text and "CN.COMPLAINT.SLA" in page.text
    rows = re.findall(r'data-complaint="(\d+)"', page.text)
    assert rows.index(str(late)) < rows.index(str(fresh))
    assert "已逾期 16 天" in page.text  # received 10-20, due 11-04, seen 11-20
    assert "剩余 14 天" in page.text  # received 11-19, due 12-04
    english = sign_in("compliance1").get("/compliance?lang=en")
    assert "16 day(s) overdue" in english.text and "Compliance console" in english.text


def test_the_complaint_page_shows_the_clock_contacts_and_actions(client, sign_in, book, db) -> None:
    attempt = contacts.request_contact(
        db.conn,
        loan_id=book.queue_loan,
        channel="sms",
        at=datetime(2026, 11, 18, 3, 0, tzinfo=UTC),
        actor="test",
        rules=contacts.lender_rules(db.settings.data_dir, db.conn),
    ).attempt_id
    borrower = db.conn.execute(
        select(Loan.borrower_id).where(Loan.id == book.queue_loan)
    ).scalar_one()
    cid = svc.file_complaint(
        db.conn,
        db.vault,
        borrower_id=borrower,
        loan_id=book.queue_loan,
        source="agent",
        category="harassment",
        description=TEXT,
        actor="test",
        now=datetime(2026, 11, 19, 2, 0, tzinfo=UTC),
        contact_attempt_ids=[attempt or 0],
    )
    officer = sign_in("compliance1")
    page = officer.get(f"/compliance/complaints/{cid}")
    assert page.status_code == 200
    assert 'id="sla-clock"' in page.text and "剩余 14 天" in page.text
    assert TEXT in page.text and 'id="linked-contacts"' in page.text
    assert all(f'id="{a}-form"' in page.text for a in ("start", "extend", "resolve"))
    supervisor = sign_in("super1").get(f"/compliance/complaints/{cid}")
    assert TEXT not in supervisor.text and 'id="resolve-form"' not in supervisor.text


def test_forms_work_the_complaint_and_need_the_csrf_token(client, sign_in, book, db) -> None:
    cid = complaint(db, book.queue_loan)
    officer = sign_in("compliance1")
    token = officer.headers.pop("X-CSRF-Token")
    before = counts(db)
    refused = officer.post(f"/compliance/complaints/{cid}/extend", data={"reason": "x"})
    assert refused.status_code == 403 and counts(db) == before
    done = officer.post(
        f"/compliance/complaints/{cid}/extend",
        data={"reason": "需调取录音", "csrf_token": token},
        follow_redirects=False,
    )
    assert done.status_code == 303
    page = officer.get(done.headers["location"])
    assert "已延期至受理后30日" in page.text and "2026-12-19" in page.text
    bad = officer.post(
        f"/compliance/complaints/{cid}/resolve",
        data={"resolution": "ok", "root_cause": "fate", "csrf_token": token},
    )
    assert bad.status_code == 422 and "root_cause" in bad.text
    unknown = officer.post(f"/compliance/complaints/{cid}/reopen", data={"csrf_token": token})
    assert unknown.status_code in (404, 422)


def test_compliance_files_a_referral_on_the_page(client, sign_in, book, db) -> None:
    officer = sign_in("compliance1")
    token = officer.headers["X-CSRF-Token"]
    before = counts(db)
    bad = officer.post(
        "/compliance/complaints",
        data={"loan_ref": " ", "category": "privacy", "description": TEXT, "csrf_token": token},
    )
    assert bad.status_code == 422 and counts(db) == before
    assert TEXT in bad.text  # what was typed is kept
    ref = db.conn.execute(select(Loan.external_ref).where(Loan.id == book.other_loan)).scalar_one()
    done = officer.post(
        "/compliance/complaints",
        data={
            "loan_ref": ref,
            "category": "privacy",
            "description": TEXT,
            "source": "regulator",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert "投诉已登记" in officer.get(done.headers["location"]).text


@pytest.mark.parametrize(
    ("who", "path", "status"),
    [
        ("agent1", "/compliance", 403),
        ("legal1", "/compliance", 403),
        ("admin1", "/compliance", 403),
        ("agency1", "/compliance/blocked", 403),
        ("super1", "/compliance", 200),
        ("super1", "/compliance/blocked", 200),
        ("super1", "/compliance/rules", 200),
        ("super1", "/compliance/cases", 200),
        ("super1", "/compliance/audit", 403),
        ("super1", "/compliance/templates", 403),
        ("admin1", "/compliance/audit", 200),
    ],
)
def test_who_may_open_which_console_page(client, sign_in, who, path, status) -> None:
    assert sign_in(who).get(path).status_code == status


def test_blocked_contacts_by_rule_with_the_drill_down(client, sign_in, book, db) -> None:
    contacts.request_contact(
        db.conn,
        loan_id=book.queue_loan,
        channel="call",
        at=datetime(2026, 11, 19, 23, 0, tzinfo=UTC),  # 07:00 in Shanghai
        actor="test",
        rules=contacts.lender_rules(db.settings.data_dir, db.conn),
    )
    officer = sign_in("compliance1")
    page = officer.get("/compliance/blocked")
    assert page.status_code == 200 and 'data-rule="CN.HOURS.QUIET"' in page.text
    drill = officer.get("/compliance/blocked?rule=CN.HOURS.QUIET")
    assert 'id="blocked-items"' in drill.text and "实时" in drill.text
    assert officer.get("/compliance/blocked?start=2026-13-01").status_code == 422


def test_the_rules_in_force_with_sources(client, sign_in) -> None:
    officer = sign_in("compliance1")
    page = officer.get("/compliance/rules")
    assert page.status_code == 200
    # the source in the reader's language: Chinese on the Chinese page, as the pack says it
    assert 'data-rule="CN.COMPLAINT.SLA"' in page.text and "2020 年投诉处理规则" in page.text
    assert 'id="pack-name"><code translate="no">CN</code><' in page.text
    english = officer.get("/compliance/rules?lang=en")
    assert "complaint-handling rules 2020" in english.text


def test_the_audit_trail_pages_and_verifies(client, sign_in, book, db) -> None:
    complaint(db, book.queue_loan)
    officer = sign_in("compliance1")
    page = officer.get("/compliance/audit?action=complaint.file")
    assert page.status_code == 200 and "complaint.file" in page.text
    assert TEXT not in page.text
    verified = officer.get("/compliance/audit?verify=true&page=2")
    assert 'id="verify-result"' in verified.text and "哈希链完整" in verified.text
    assert officer.get("/compliance/audit?page=0").status_code == 422


def test_template_review_shows_the_content_filters_findings(client, sign_in, db) -> None:
    save_template(
        db.conn,
        "complaints-test",
        "sms",
        "debtor",
        "zh",
        "您好，请于{due_date}前还款。",
        actor="test",
        now=SETUP_AT,
    )
    officer = sign_in("compliance1")
    page = officer.get("/compliance/templates")
    assert page.status_code == 200 and 'data-template="complaints-test"' in page.text
    token = officer.headers["X-CSRF-Token"]
    before = counts(db)
    checked = officer.post(
        "/compliance/templates/check",
        data={"body": "再不还钱就去你单位闹，让你身败名裂", "channel": "sms", "csrf_token": token},
    )
    assert checked.status_code == 200 and 'id="draft-findings"' in checked.text
    assert "CN." in checked.text.split('id="draft-findings"')[1].split("</div>")[0]
    assert counts(db) == before  # a check stores nothing
    clean = officer.post(
        "/compliance/templates/check",
        data={"body": "您好，请按时还款。", "channel": "sms", "csrf_token": token},
    )
    assert "未发现问题" in clean.text
    assert (
        officer.post(
            "/compliance/templates/check", data={"body": "x", "channel": "fax", "csrf_token": token}
        ).status_code
        == 422
    )


def test_the_case_library_on_the_page(client, sign_in, book, db) -> None:
    supervisor = sign_in("super1")
    token = supervisor.headers["X-CSRF-Token"]
    form = {
        "loan_id": str(book.other_loan),
        "outcome": "success",
        "category": "plan",
        "lesson": "Hardship plan offered early; settled in full",
        "csrf_token": token,
    }
    before = counts(db)
    assert supervisor.post("/compliance/cases", data=form | {"outcome": "x"}).status_code == 422
    assert counts(db) == before
    done = supervisor.post("/compliance/cases", data=form, follow_redirects=False)
    assert done.status_code == 303
    page = supervisor.get(done.headers["location"])
    assert 'id="case-added"' in page.text and "settled in full" in page.text
    found = supervisor.get("/compliance/cases?text=hardship&outcome=success")
    assert f'href="/accounts/{book.other_loan}"' in found.text
    assert "no_cases" not in found.text
    assert 'id="no-cases"' in supervisor.get("/compliance/cases?text=zzzz").text
    assert sign_in("agent1").post("/compliance/cases", data=form).status_code == 403


def test_the_satisfaction_follow_up_after_the_resolution(client, sign_in, book, db) -> None:
    cid = complaint(db, book.queue_loan)
    officer = sign_in("compliance1")
    token = officer.headers["X-CSRF-Token"]
    assert 'id="survey-form"' not in officer.get(f"/compliance/complaints/{cid}").text
    before = counts(db)
    early = officer.post(
        f"/compliance/complaints/{cid}/survey", data={"score": "4", "csrf_token": token}
    )
    assert early.status_code == 409 and counts(db) == before  # not resolved yet
    svc.resolve(
        db.conn,
        db.vault,
        cid,
        resolution="已致歉",
        root_cause="agent_conduct",
        actor="test",
        now=datetime(2026, 11, 20, 1, 0, tzinfo=UTC),
    )
    assert 'id="survey-form"' in officer.get(f"/compliance/complaints/{cid}").text
    for bad in ("0", "6", "five"):
        answer = officer.post(
            f"/compliance/complaints/{cid}/survey", data={"score": bad, "csrf_token": token}
        )
        assert answer.status_code == 422
    done = officer.post(
        f"/compliance/complaints/{cid}/survey",
        data={"score": "4", "csrf_token": token},
        follow_redirects=False,
    )
    assert done.status_code == 303
    page = officer.get(done.headers["location"])
    assert "已记录满意度" in page.text and "4 / 5" in page.text
    assert 'id="survey-form"' not in page.text
    assert (
        sign_in("super1")
        .post(f"/compliance/complaints/{cid}/survey", data={"score": "5", "csrf_token": token})
        .status_code
        == 403
    )


def test_the_account_timeline_shows_the_loans_complaints_without_their_text(
    client, sign_in, book, db
) -> None:  # type: ignore[no-untyped-def]
    filed = complaint(db, book.queue_loan)
    page = sign_in("agent1").get(f"/accounts/{book.queue_loan}")
    assert page.status_code == 200
    row = re.search(rf'<tr data-complaint="{filed}">(.*?)</tr>', page.text, re.S)
    assert row is not None
    assert "服务态度" in row.group(1) and "剩余 14 天" in row.group(1)
    assert TEXT not in page.text  # the description stays in the compliance console
    assert f'href="/compliance/complaints/{filed}"' not in page.text  # agents have no console
    officer = sign_in("compliance1").get(f"/accounts/{book.queue_loan}")
    assert f'href="/compliance/complaints/{filed}"' in officer.text
    quiet = sign_in("agent1").get(f"/accounts/{book.other_loan}")
    assert 'id="no-complaints"' in quiet.text
