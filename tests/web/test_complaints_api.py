"""The complaints API: complaints with their SLA clock, the lifecycle, satisfaction surveys,
complaint rates and the case library, route by route: answers, permission denials per
role, the description withheld from roles that may not read it, scope, bad input writing
nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from forbear.store.audit import AuditEvent
from forbear.store.complaints import CaseEntry, Complaint, ComplaintContact, SatisfactionResponse
from forbear.store.contacts import Hold

TEXT = "借款人称晚上十点后仍接到催收电话"


def counts(db):  # type: ignore[no-untyped-def]
    return tuple(
        db.conn.execute(select(func.count()).select_from(t)).scalar_one()
        for t in (AuditEvent, Complaint, ComplaintContact, Hold, SatisfactionResponse, CaseEntry)
    )


def body(loan: int, **extra: object) -> dict[str, object]:
    return {"loan_id": loan, "category": "harassment", "description": TEXT} | extra


def file(client, sign_in, loan: int, who: str = "agent1", **extra: object) -> dict:  # type: ignore[no-untyped-def]
    answer = sign_in(who).post("/api/v1/complaints", json=body(loan, **extra))
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


def test_an_agent_files_a_complaint_with_its_clock_and_hold(client, sign_in, book, db) -> None:
    before = counts(db)
    made = file(client, sign_in, book.queue_loan)
    assert (made["status"], made["source"], made["category"]) == ("open", "agent", "harassment")
    assert made["clock"] == {
        "rule_id": "CN.COMPLAINT.SLA",
        "due_on": "2026-12-05",
        "days_left": 15,
        "urgency": "on_track",
        "escalate": False,
    }
    assert made["description_withheld"] is True and made["description"] is None  # agents
    after = counts(db)
    assert after[1] == before[1] + 1 and after[3] == before[3] + 1  # the complaint, its hold
    hold = db.conn.execute(select(Hold.kind, Hold.loan_id).where(Hold.id == made["hold_id"])).one()
    assert tuple(hold) == ("complaint", book.queue_loan)
    event = db.conn.execute(
        select(AuditEvent.action, AuditEvent.payload).where(AuditEvent.action == "complaint.file")
    ).one()
    assert TEXT not in event.payload


def test_compliance_reads_the_description_and_a_supervisor_does_not(client, sign_in, book) -> None:
    made = file(client, sign_in, book.queue_loan)
    seen = sign_in("compliance1").get(f"/api/v1/complaints/{made['id']}").json()
    assert seen["description"] == TEXT and not seen["description_withheld"]
    withheld = sign_in("super1").get(f"/api/v1/complaints/{made['id']}").json()
    assert withheld["description"] is None and withheld["description_withheld"]
    assert withheld["clock"]["days_left"] == 15


@pytest.mark.parametrize("who", ["agent1", "legal1", "agency1", "admin1"])
def test_roles_without_the_console_cannot_read_complaints(client, sign_in, book, who) -> None:
    made = file(client, sign_in, book.queue_loan)
    c = sign_in(who)
    for path in ("/api/v1/complaints", f"/api/v1/complaints/{made['id']}", "/api/v1/cases"):
        answer = c.get(path)
        assert answer.status_code == 403, (who, path)
        assert answer.json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize("who", ["legal1", "admin1"])
def test_roles_that_neither_contact_nor_handle_complaints_cannot_file(
    client, sign_in, book, db, who
) -> None:
    before = counts(db)
    answer = sign_in(who).post("/api/v1/complaints", json=body(book.queue_loan))
    assert answer.status_code == 403
    assert counts(db) == before


def test_regulator_referrals_are_filed_by_compliance_only(client, sign_in, book, db) -> None:
    before = counts(db)
    refused = sign_in("agent1").post(
        "/api/v1/complaints", json=body(book.queue_loan, source="regulator")
    )
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "source"
    assert counts(db) == before
    made = file(client, sign_in, book.other_loan, who="compliance1", source="regulator")
    assert made["source"] == "regulator" and made["description"] == TEXT


def test_an_agency_files_only_on_accounts_placed_with_it(client, sign_in, book, db) -> None:
    before = counts(db)
    outside = sign_in("agency1").post("/api/v1/complaints", json=body(book.other_loan))
    assert outside.status_code == 404
    assert counts(db) == before
    assert file(client, sign_in, book.placed_loan, who="agency1")["loan_id"] == book.placed_loan


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        ({"category": "rudeness"}, 422, "category"),
        ({"description": ""}, 422, "description"),
        ({"description": "x" * 4001}, 422, "description"),
        ({"source": "portal"}, 422, "source"),
        ({"loan_id": 0}, 422, "loan_id"),
        ({"loan_id": "L1"}, 422, "loan_id"),
        ({"contact_attempt_ids": [0]}, 422, None),
        ({"contact_attempt_ids": [2**40]}, 404, None),
        ({"extra": 1}, 422, None),
        ({"loan_id": 2_000_000}, 404, None),
    ],
)
def test_bad_complaints_are_refused_in_chinese_and_write_nothing(
    client, sign_in, book, db, payload, status, field
) -> None:
    before = counts(db)
    answer = sign_in("agent1").post("/api/v1/complaints", json=body(book.queue_loan) | payload)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    if field is not None:
        assert error["field"] == field
    assert TEXT not in answer.text
    assert counts(db) == before


def test_malformed_json_writes_nothing(client, sign_in, db) -> None:
    before = counts(db)
    answer = sign_in("agent1").post(
        "/api/v1/complaints", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert answer.status_code == 400
    assert counts(db) == before


def test_the_lifecycle_over_the_api(client, sign_in, book, db) -> None:
    made = file(client, sign_in, book.queue_loan)
    path = f"/api/v1/complaints/{made['id']}"
    assert sign_in("agent1").post(f"{path}/start").status_code == 403
    assert sign_in("super1").post(f"{path}/start").status_code == 403  # supervisors read
    officer = sign_in("compliance1")
    assert officer.post(f"{path}/start").json()["status"] == "in_progress"
    assert officer.post(f"{path}/extend", json={"reason": ""}).status_code == 422
    extended = officer.post(f"{path}/extend", json={"reason": "需调取录音"}).json()
    assert (extended["status"], extended["clock"]["due_on"]) == ("extended", "2026-12-20")
    assert extended["extension_reason"] == "需调取录音"
    again = officer.post(f"{path}/approve")
    assert again.status_code == 409  # four eyes: not who extended it
    approved = sign_in("super1").post(f"{path}/approve").json()
    assert (approved["status"], approved["clock"]["due_on"]) == ("extended_approved", "2027-01-19")
    officer = sign_in("compliance1")
    bad = officer.post(f"{path}/resolve", json={"resolution": "ok", "root_cause": "luck"})
    assert bad.status_code == 422
    resolved = officer.post(
        f"{path}/resolve", json={"resolution": "已致歉", "root_cause": "contact_rules"}
    ).json()
    assert resolved["status"] == "resolved" and resolved["clock"]["urgency"] == "answered"
    until = db.conn.execute(select(Hold.until).where(Hold.id == made["hold_id"])).scalar_one()
    assert until is not None  # the complaint hold is released
    assert officer.post(f"{path}/close").json()["status"] == "closed"
    assert officer.post(f"{path}/close").status_code == 409
    assert officer.post("/api/v1/complaints/999999/close").status_code == 404


def test_the_queue_lists_open_complaints_with_escalation_first(client, sign_in, book) -> None:
    first = file(client, sign_in, book.queue_loan)
    second = file(client, sign_in, book.other_loan, who="compliance1", category="amount")
    listed = sign_in("super1").get("/api/v1/complaints", params={"open_only": True}).json()
    ids = [item["id"] for item in listed["items"]]
    assert {first["id"], second["id"]} <= set(ids)
    assert listed["as_of"] == "2026-11-20"
    assert all("description" not in item for item in listed["items"])
    assert sign_in("super1").get("/api/v1/complaints", params={"status": "bad"}).status_code == 422


def test_a_survey_after_a_resolved_complaint_and_the_summary(client, sign_in, book, db) -> None:
    made = file(client, sign_in, book.queue_loan)
    officer = sign_in("compliance1")
    officer.post(
        f"/api/v1/complaints/{made['id']}/resolve",
        json={"resolution": "已处理", "root_cause": "no_fault"},
    )
    survey = {"loan_id": book.queue_loan, "subject_type": "complaint", "subject_id": made["id"]}
    before = counts(db)
    for bad in ({"score": 6}, {"score": 0}, {"score": "five"}, {"subject_type": "loan"}):
        answer = sign_in("agent1").post("/api/v1/satisfaction", json=survey | {"score": 4} | bad)
        assert answer.status_code == 422
    other = sign_in("agent1").post(
        "/api/v1/satisfaction", json=survey | {"score": 4, "loan_id": book.other_loan}
    )
    assert other.status_code == 422  # the complaint is not on that loan
    assert counts(db) == before
    saved = sign_in("agent1").post("/api/v1/satisfaction", json=survey | {"score": 5})
    assert saved.status_code == 201 and saved.json()["score"] == 5
    assert (
        sign_in("agent1").post("/api/v1/satisfaction", json=survey | {"score": 3}).status_code
        == 409
    )
    assert sign_in("agent1").get("/api/v1/satisfaction/summary").status_code == 403
    summary = sign_in("super1").get("/api/v1/satisfaction/summary").json()
    rows = {r["subject_type"]: r for r in summary["rows"]}
    assert rows["complaint"]["responses"] >= 1 and rows["complaint"]["share_4_5"] is not None
    assert summary["end"] == "2026-11-20"


def test_complaint_rates_per_10k_contacts(client, sign_in, book) -> None:
    file(client, sign_in, book.queue_loan)
    rates = sign_in("compliance1").get("/api/v1/complaints/rates").json()
    overall = next(r for r in rates["rows"] if r["level"] == "overall")
    assert overall["complaints"] >= 1
    levels = {r["level"] for r in rates["rows"]}
    assert "overall" in levels
    bad = sign_in("compliance1").get(
        "/api/v1/complaints/rates", params={"start": "2026-11-20", "end": "2026-11-01"}
    )
    assert bad.status_code == 422
    too_long = sign_in("compliance1").get(
        "/api/v1/complaints/rates", params={"start": "2020-01-01", "end": "2026-11-01"}
    )
    assert too_long.status_code == 422
    assert sign_in("agent1").get("/api/v1/complaints/rates").status_code == 403


def test_the_case_library_is_written_by_supervisors_and_compliance(
    client, sign_in, book, db
) -> None:
    case = {
        "loan_id": book.other_loan,
        "outcome": "failure",
        "category": "legal",
        "lesson": "Evening calls led to a complaint; offer a plan earlier",
    }
    before = counts(db)
    assert sign_in("agent1").post("/api/v1/cases", json=case).status_code == 403
    assert (
        sign_in("super1").post("/api/v1/cases", json=case | {"outcome": "meh"}).status_code == 422
    )
    assert sign_in("super1").post("/api/v1/cases", json=case | {"lesson": ""}).status_code == 422
    assert (
        sign_in("super1").post("/api/v1/cases", json=case | {"loan_id": 2_000_000}).status_code
        == 404
    )
    assert counts(db) == before
    saved = sign_in("super1").post("/api/v1/cases", json=case)
    assert saved.status_code == 201 and saved.json()["written_by"] == "web:super1"
    assert sign_in("compliance1").post("/api/v1/cases", json=case).status_code == 409
    found = sign_in("compliance1").get("/api/v1/cases", params={"text": "evening plan"}).json()
    assert [c["loan_id"] for c in found["items"]] == [book.other_loan]
    none = sign_in("compliance1").get("/api/v1/cases", params={"outcome": "success"}).json()
    assert book.other_loan not in [c["loan_id"] for c in none["items"]]


def test_a_complaint_about_no_loan_is_hidden_from_scoped_staff(client, sign_in, book, db) -> None:
    """A complaint not tied to a loan cannot be shown to be in a bucket-scoped user's scope:
    404 for them (the scoped queue leaves it out too); whole-book roles see it."""
    from datetime import UTC, datetime

    from forbear.services import complaints as svc
    from forbear.services import staff
    from forbear.store.models import Loan

    staff.add_staff(
        db.conn,
        username="compliance.m1",
        display_name="测试 compliance.m1",
        role="compliance_officer",
        actor="test",
        now=datetime(2026, 11, 19, 12, tzinfo=UTC),
        scope_buckets=["M1"],
    )
    with db.transaction() as conn:
        borrower = conn.execute(
            select(Loan.borrower_id).where(Loan.id == book.placed_loan)
        ).scalar_one()
        made = svc.file_complaint(
            conn,
            db.vault,
            borrower_id=borrower,
            loan_id=None,
            source="agent",
            category="harassment",
            description=TEXT,
            actor="test",
            now=datetime(2026, 11, 20, 2, tzinfo=UTC),
        )
    answer = sign_in("compliance.m1").get(f"/api/v1/complaints/{made}")
    assert answer.status_code == 404, answer.text
    assert sign_in("compliance1").get(f"/api/v1/complaints/{made}").status_code == 200
