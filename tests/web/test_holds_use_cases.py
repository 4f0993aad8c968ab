"""The holds-and-disputes desk's use cases called with an :class:`Actor`, on SQLite and
PostgreSQL (issue 15, item 1): the hold an outcome places and what it still allows, the
block message naming the hold, the queue, owners, the dispute lifecycle, release with a
reason and the permission, evidence from the borrower, and complaints filed by the loan
reference with the contacts they are about (item 5)."""

from __future__ import annotations

import os
import stat
from datetime import timedelta

import pytest
from sqlalchemy import select

from forbear.domain.access import Actor, Role
from forbear.domain.compliance.gate import explain
from forbear.domain.errors import Conflict, NotFound, PermissionDenied, ValidationError
from forbear.domain.holds import HoldKind, default_hold_policy, parse_hold_policy
from forbear.services import contacts, holds
from forbear.services.complaints import desk
from forbear.services.contacts import CollectorOutcome
from forbear.services.contacts.holds import attempt_blocking_holds
from forbear.services.contacts.outcomes import outcome_holds
from forbear.store.audit import AuditEvent
from forbear.store.contacts import Hold
from forbear.store.hold_cases import DisputeEvidence
from forbear.store.models import Loan
from web.conftest import AS_OF, MORNING

AGENT = Actor("test:agent", Role.AGENT)
SUPER = Actor("web:super1", Role.SUPERVISOR)
COMPLIANCE = Actor("web:compliance1", Role.COMPLIANCE_OFFICER)
SCOPED_SUPER = Actor("web:super.m1", Role.SUPERVISOR, scope_buckets=("M1",))
WHEN = {"now": MORNING, "today": AS_OF}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64 + b"receipt-bytes"


def _rules(db):  # type: ignore[no-untyped-def]
    return contacts.lender_rules(db.settings.data_dir, db.conn)


def _hold(db, loan: int, kind: str = "dispute", reason: str | None = None) -> int:  # type: ignore[no-untyped-def]
    return contacts.add_hold(
        db.conn,
        loan_id=loan,
        kind=kind,
        actor="test",
        since=MORNING - timedelta(hours=1),
        reason=reason or "portal dispute: amount_wrong",
    )


def _actions(db, subject: int) -> list[str]:  # type: ignore[no-untyped-def]
    return list(
        db.conn.execute(
            select(AuditEvent.action)
            .where(AuditEvent.subject_type == "hold", AuditEvent.subject_id == str(subject))
            .order_by(AuditEvent.seq)
        ).scalars()
    )


def test_the_policy_is_data_and_every_hold_it_places_is_one_the_pack_knows() -> None:
    policy = default_hold_policy()
    assert {k.value: v.hold for k, v in outcome_holds(policy).items()} == {
        "dispute": HoldKind.DISPUTE,
        "hardship": HoldKind.HARDSHIP,
    }
    assert policy.disputes.answer_days == 15
    from forbear.domain.compliance.config import default_rules

    blocks = next(r for r in default_rules().active("hold")).params["blocks"]
    for rule in policy.outcomes.values():
        assert rule.hold.value in blocks  # a hold the gate honours
    assert "call" not in blocks["hardship"] and "sms" in blocks["hardship"]
    with pytest.raises(Exception, match="hold"):
        parse_hold_policy("outcomes: {hardship: {hold: holiday}}\ndisputes: {answer_days: 15}")


def test_hardship_allows_the_plan_call_and_blocks_an_sms_demand_naming_the_hold(db, book) -> None:  # type: ignore[no-untyped-def]
    rules = _rules(db)
    loan = book.queue_loan
    made = contacts.contact(db.conn, rules, AGENT, loan_id=loan, channel="call", lang="zh", **WHEN)
    assert made.decision.allowed, made.explanation
    recorded = contacts.record_collector_outcome(
        db.conn,
        AGENT,
        attempt_id=made.decision.attempt_id,
        outcome=CollectorOutcome.HARDSHIP,
        **WHEN,
    )
    kind = db.conn.execute(select(Hold.kind).where(Hold.id == recorded.hold_id)).scalar_one()
    assert kind == "hardship"
    later = MORNING + timedelta(minutes=30)
    call = contacts.evaluate_contact(db.conn, loan_id=loan, channel="call", at=later, rules=rules)
    assert call.allowed, call.blocked_by  # the agent may call back to finish the plan
    sms = contacts.evaluate_contact(db.conn, loan_id=loan, channel="sms", at=later, rules=rules)
    assert not sms.allowed and "CN.HOLDS" in sms.blocked_by
    named = sms.row["holds"]
    assert [h["id"] for h in named] == [recorded.hold_id]
    zh = " ".join(explain(sms.row, rules, "zh"))
    en = " ".join(explain(sms.row, rules, "en"))
    assert f"#{recorded.hold_id}" in zh and "经济困难" in zh and "主管" in zh
    assert "律师代理" not in zh and "已故" not in zh  # not every kind a pack knows
    assert "hardship hold" in en and "a supervisor" in en
    # the stored attempt of a blocked SMS names the same hold after the fact
    sent = contacts.contact(
        db.conn, rules, AGENT, loan_id=loan, channel="sms", lang="zh", now=later, today=AS_OF
    )
    assert not sent.decision.allowed and f"#{recorded.hold_id}" in " ".join(sent.explanation)
    after = attempt_blocking_holds(db.conn, sent.decision.attempt_id, rules)
    assert [h["id"] for h in after] == [recorded.hold_id]


def test_the_queue_lists_open_holds_with_owner_and_the_dispute_clock(db, book) -> None:  # type: ignore[no-untyped-def]
    dispute = _hold(db, book.queue_loan)
    other = _hold(db, book.other_loan, kind="cease", reason=None)
    with pytest.raises(PermissionDenied):
        holds.queue(db.conn, AGENT, **WHEN)
    page = holds.queue(db.conn, SUPER, kind="dispute", per_page=500, **WHEN)
    row = next(r for r in page.rows if r["id"] == dispute)
    assert row["source"] == "portal" and row["detail"] == "amount_wrong"
    assert row["owner"] is None and row["status"] == "open" and not row["overdue"]
    assert row["due_at"] == MORNING - timedelta(hours=1) + timedelta(days=15)
    assert all(r["kind"] == "dispute" for r in page.rows)
    assert other not in [r["id"] for r in page.rows]
    late = {"now": MORNING + timedelta(days=16), "today": AS_OF + timedelta(days=16)}
    overdue = holds.queue(db.conn, SUPER, overdue_only=True, per_page=500, **late)
    assert dispute in [r["id"] for r in overdue.rows] and all(r["overdue"] for r in overdue.rows)
    first = holds.queue(db.conn, SUPER, per_page=1, **WHEN)
    assert first.total >= 2 and first.pages == first.total and len(first.rows) == 1
    with pytest.raises(ValidationError):
        holds.queue(db.conn, SUPER, kind="holiday", **WHEN)


def test_take_assign_and_the_lifecycle_of_a_dispute(db, book) -> None:  # type: ignore[no-untyped-def]
    hold = _hold(db, book.queue_loan)
    assert holds.take(db.conn, SUPER, hold, **WHEN) == holds.TakeResult.TAKEN
    assert holds.take(db.conn, SUPER, hold, **WHEN) == holds.TakeResult.UNCHANGED
    with pytest.raises(Conflict):
        holds.take(db.conn, COMPLIANCE, hold, **WHEN)
    with pytest.raises(ValidationError):
        holds.assign(db.conn, SUPER, hold, to="agent1", **WHEN)  # may not release holds
    holds.assign(db.conn, SUPER, hold, to="compliance1", **WHEN)
    vault = db.vault
    with pytest.raises(Conflict):  # open -> answered skips verification
        holds.move_dispute(db.conn, vault, COMPLIANCE, hold, to="answered", answer="x", **WHEN)
    holds.move_dispute(db.conn, vault, COMPLIANCE, hold, to="verifying", **WHEN)
    with pytest.raises(ValidationError):
        holds.move_dispute(db.conn, vault, COMPLIANCE, hold, to="answered", answer=" ", **WHEN)
    holds.move_dispute(
        db.conn, vault, COMPLIANCE, hold, to="answered", answer="经核实欠款金额无误", **WHEN
    )
    with pytest.raises(ValidationError):  # only a dispute is upheld or rejected
        holds.release(
            db.conn,
            vault,
            SUPER,
            _hold(db, book.queue_loan, kind="cease"),
            reason="x",
            resolution="upheld",
            **WHEN,
        )
    holds.release(
        db.conn, vault, COMPLIANCE, hold, reason="已答复，异议不成立", resolution="rejected", **WHEN
    )
    view = holds.detail(db.conn, vault, SUPER, hold, **WHEN)
    assert view.owner == "compliance1" and view.status.value == "closed"
    assert view.answer == "经核实欠款金额无误" and view.resolution == "rejected"
    assert view.release_reason == "已答复，异议不成立" and view.until == MORNING
    assert _actions(db, hold) == [
        "hold.add",
        "hold.take",
        "hold.assign",
        "dispute.verifying",
        "dispute.answered",
        "hold.release",
    ]
    payloads = db.conn.execute(
        select(AuditEvent.payload).where(AuditEvent.subject_id == str(hold))
    ).scalars()
    assert all("异议" not in str(p) and "经核实" not in str(p) for p in payloads)


def test_release_needs_the_permission_a_reason_and_happens_once(db, book) -> None:  # type: ignore[no-untyped-def]
    hold = _hold(db, book.queue_loan, kind="cease", reason=None)
    with pytest.raises(PermissionDenied):
        holds.release(db.conn, db.vault, AGENT, hold, reason="借款人同意恢复联系", **WHEN)
    with pytest.raises(ValidationError) as empty:
        holds.release(db.conn, db.vault, SUPER, hold, reason="  ", **WHEN)
    assert empty.value.field == "reason"
    with pytest.raises(NotFound):  # out of this supervisor's scope: as if it did not exist
        holds.release(
            db.conn, db.vault, SCOPED_SUPER, _hold(db, book.m2_plus_loan), reason="x", **WHEN
        )
    holds.release(db.conn, db.vault, SUPER, hold, reason="借款人书面同意恢复联系", **WHEN)
    until = db.conn.execute(select(Hold.until).where(Hold.id == hold)).scalar_one()
    with pytest.raises(Conflict):
        holds.release(
            db.conn,
            db.vault,
            COMPLIANCE,
            hold,
            reason="again",
            now=MORNING + timedelta(hours=1),
            today=AS_OF,
        )
    assert db.conn.execute(select(Hold.until).where(Hold.id == hold)).scalar_one() == until
    assert _actions(db, hold).count("hold.release") == 1
    # the command line's release goes through the same use case (an operator: no role)
    other = _hold(db, book.other_loan)
    holds.release_from_cli(
        db.conn, db.vault, other, actor="cli:test", reason="placed in error", **WHEN
    )
    with pytest.raises(Conflict):
        contacts.release_hold(db.conn, other, actor="cli:test", at=MORNING)


def test_a_refusal_of_a_contact_person_is_never_released(db, book) -> None:  # type: ignore[no-untyped-def]
    from forbear.store.models import ContactPoint

    borrower = db.conn.execute(
        select(Loan.borrower_id).where(Loan.id == book.queue_loan)
    ).scalar_one()
    point = (
        db.conn.execute(select(ContactPoint.id).where(ContactPoint.borrower_id == borrower))
        .scalars()
        .first()
    )
    refusal = contacts.add_hold(
        db.conn,
        loan_id=book.queue_loan,
        kind="do_not_contact",
        actor="test",
        since=MORNING,
        contact_point_id=point,
        reason="CN.3P.REFUSAL: the contact person refused further contact",
    )
    with pytest.raises(ValidationError):
        holds.release(db.conn, db.vault, SUPER, refusal, reason="x", **WHEN)
    assert refusal not in [r["id"] for r in holds.queue(db.conn, SUPER, per_page=500, **WHEN).rows]


def test_evidence_from_the_borrower_is_sealed_and_limited(db, book, tmp_path) -> None:  # type: ignore[no-untyped-def]
    hold = _hold(db, book.queue_loan)
    borrower = db.conn.execute(
        select(Loan.borrower_id).where(Loan.id == book.queue_loan)
    ).scalar_one()
    data_dir = db.settings.data_dir
    add = lambda **kw: holds.add_evidence(  # noqa: E731
        db.conn,
        db.vault,
        data_dir,
        **(
            {
                "borrower_id": borrower,
                "hold_id": hold,
                "filename": "还款凭证.png",
                "data": PNG,
                "now": MORNING,
            }
            | kw
        ),
    )
    with pytest.raises(ValidationError):
        add(data=b"MZ\x90\x00 not a picture")
    with pytest.raises(ValidationError):
        add(data=b"")
    with pytest.raises(ValidationError):
        add(data=PNG + b"\x00" * holds.MAX_EVIDENCE_BYTES)
    with pytest.raises(NotFound):
        add(borrower_id=borrower + 1)
    evidence_id = add(filename="C:\\Users\\张三\\还款凭证.png")
    row = db.conn.execute(select(DisputeEvidence).where(DisputeEvidence.id == evidence_id)).one()
    stored = data_dir / row.path
    assert stat.S_IMODE(os.stat(stored).st_mode) == 0o600
    assert b"receipt-bytes" not in stored.read_bytes() and "张三" not in row.path
    name, kind, data = holds.evidence_file(db.conn, db.vault, data_dir, SUPER, evidence_id, **WHEN)
    assert (name, kind, data) == ("还款凭证.png", "image/png", PNG)
    with pytest.raises(PermissionDenied):
        holds.evidence_file(db.conn, db.vault, data_dir, AGENT, evidence_id, **WHEN)
    assert [e.name for e in holds.detail(db.conn, db.vault, SUPER, hold, **WHEN).evidence] == [
        "还款凭证.png"
    ]
    holds.release(db.conn, db.vault, SUPER, hold, reason="已核实", resolution="upheld", **WHEN)
    with pytest.raises(Conflict):
        add()


def test_a_complaint_is_filed_by_the_loan_reference_with_its_contacts(db, book) -> None:  # type: ignore[no-untyped-def]
    rules = _rules(db)
    ref = db.conn.execute(select(Loan.external_ref).where(Loan.id == book.queue_loan)).scalar_one()
    made = contacts.contact(
        db.conn, rules, AGENT, loan_id=book.queue_loan, channel="call", lang="zh", **WHEN
    )
    attempts = desk.recent_attempts(db.conn, AGENT, book.queue_loan, **WHEN)
    assert attempts[0]["id"] == made.decision.attempt_id
    view = desk.file(
        db.conn,
        db.vault,
        AGENT,
        loan_ref=f" {ref.lower()} ",
        source="agent",
        category="harassment",
        description="借款人称晚间多次来电",
        contact_attempt_ids=[made.decision.attempt_id],
        **WHEN,
    )
    assert view.loan_id == book.queue_loan
    assert [c.attempt_id for c in view.contacts] == [made.decision.attempt_id]
    with pytest.raises(NotFound):
        desk.file(
            db.conn,
            db.vault,
            AGENT,
            loan_ref="NO-SUCH-LOAN",
            source="agent",
            category="other",
            description="x",
            contact_attempt_ids=[],
            **WHEN,
        )
    with pytest.raises(ValidationError):  # a contact of another loan
        desk.file(
            db.conn,
            db.vault,
            AGENT,
            loan_id=book.other_loan,
            source="agent",
            category="other",
            description="x",
            contact_attempt_ids=[made.decision.attempt_id],
            **WHEN,
        )
    with pytest.raises(ValidationError):
        desk.file(
            db.conn,
            db.vault,
            AGENT,
            loan_ref=" ",
            source="agent",
            category="other",
            description="x",
            contact_attempt_ids=[],
            **WHEN,
        )


def test_a_key_rotation_seals_the_evidence_files_anew(db, book) -> None:  # type: ignore[no-untyped-def]
    """The evidence files are sealed with the vault outside the database: a rotation with
    ``data_dir`` writes each one anew at the new key version (counted by ``keys status``),
    after which the file reads with the new key alone and not with the old one."""
    from forbear.services import keys
    from forbear.store.crypto import DecryptionFailed, PiiVault
    from web.conftest import TEST_KEY

    hold = _hold(db, book.queue_loan)
    borrower = db.conn.execute(
        select(Loan.borrower_id).where(Loan.id == book.queue_loan)
    ).scalar_one()
    data_dir = db.settings.data_dir
    evidence_id = holds.add_evidence(
        db.conn, db.vault, data_dir, borrower_id=borrower, hold_id=hold,
        filename="还款凭证.png", data=PNG, now=MORNING,
    )  # fmt: skip
    new_key = bytes(range(32, 64))
    rotated = PiiVault(new_key, key_version=2, previous_keys={1: TEST_KEY}, index_key=TEST_KEY)
    report = keys.reencrypt(db.conn, rotated, actor="ops", data_dir=data_dir)
    assert report.tables[keys.EVIDENCE_FILES].values_reencrypted >= 1
    assert set(keys.versions_in_use(db.conn, data_dir)) == {2}
    new_only = PiiVault(new_key, key_version=2, index_key=TEST_KEY)
    _, _, data = holds.evidence_file(db.conn, new_only, data_dir, SUPER, evidence_id, **WHEN)
    assert data == PNG
    with pytest.raises(DecryptionFailed):
        holds.evidence_file(db.conn, db.vault, data_dir, SUPER, evidence_id, **WHEN)
    again = keys.reencrypt(db.conn, rotated, actor="ops", data_dir=data_dir)
    assert again.tables[keys.EVIDENCE_FILES].values_reencrypted == 0  # resumable: done
