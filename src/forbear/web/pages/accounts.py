"""Account pages: the search list and one account (masked personal data, state, scores
with reasons, timeline, the contact form that asks the gate first, outcomes, audited
unmasking).

After a contact or an outcome the browser is redirected (post, redirect, get) to the
account page, which reads the recorded attempt back from the database: a reload never
contacts anyone twice. An unmasked value is shown on the answer to its POST only, never
put in a URL.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Connection, select

from forbear.domain.access import default_policy
from forbear.domain.compliance.gate import explain
from forbear.domain.compliance.schema import Channel
from forbear.domain.errors import ValidationError
from forbear.domain.ledger import DEFAULT_BUCKETS
from forbear.services import contacts as contact_service
from forbear.services import privacy
from forbear.services.contacts import blocked_by_of
from forbear.store.contacts import ContactAttempt
from forbear.store.models import Loan
from forbear.web import contacting, reads, scope, unmasking
from forbear.web.contacting import CollectorOutcome
from forbear.web.deps import gate_lang, require_any, state_of, translator
from forbear.web.pages.render import page
from forbear.web.permissions import ACCOUNT_VIEW, CONTACT, MAX_ID, UNMASK
from forbear.web.sessions import Principal

router = APIRouter()
Viewer = Annotated[Principal, Depends(require_any(*ACCOUNT_VIEW))]
Contactor = Annotated[Principal, Depends(require_any(*CONTACT))]
Unmasker = Annotated[Principal, Depends(require_any(*UNMASK))]
LoanId = Annotated[int, Path(ge=1, le=MAX_ID)]
# The channels an agent can start from the workbench (letters and visits are planned work).
AGENT_CHANNELS = (Channel.CALL, Channel.SMS, Channel.AI_CALL, Channel.EMAIL, Channel.IM)


@router.get("/accounts")
def accounts_page(
    request: Request,
    principal: Viewer,
    loan_ref: Annotated[str | None, Query(max_length=64)] = None,
    bucket: Annotated[str | None, Query(max_length=8)] = None,
    page_no: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> Response:
    web = state_of(request)
    chosen = bucket if bucket in DEFAULT_BUCKETS.labels else None
    with web.forbear.transaction() as conn:
        found = reads.list_accounts(
            conn,
            web.forbear.vault,
            principal,
            at=web.now(),
            as_of=reads.book_date(conn, web.today()),
            bucket=chosen,
            loan_ref=loan_ref or None,
            page=page_no,
            page_size=50,
        )
    return page(
        request,
        "accounts.html",
        principal,
        found=found,
        loan_ref=loan_ref or "",
        bucket=chosen,
        buckets=DEFAULT_BUCKETS.labels,
    )


def _attempt(conn: Connection, loan_id: int, attempt_id: int | None) -> Any:
    if attempt_id is None:
        return None
    return conn.execute(
        select(ContactAttempt).where(
            ContactAttempt.id == attempt_id, ContactAttempt.loan_id == loan_id
        )
    ).one_or_none()


def _local(moment: datetime | None, zone: str) -> str | None:
    return None if moment is None else moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


def _account_page(
    request: Request,
    principal: Principal,
    loan_id: int,
    *,
    attempt_id: int | None = None,
    recorded: str | None = None,
    hold_id: int | None = None,
    revealed: dict[str, str] | None = None,
    status_code: int = 200,
    extra: dict[str, Any] | None = None,
) -> Response:
    from forbear.web.pages.collection import account_extras

    web = state_of(request)
    zone_name = web.forbear.settings.lender_timezone
    with web.forbear.transaction() as conn:
        as_of = reads.book_date(conn, web.today())
        detail = reads.account_detail(
            conn, web.forbear.vault, principal, loan_id, at=web.now(), as_of=as_of
        )
        events = reads.timeline(conn, loan_id, zone=web.forbear.settings.zone, limit=100)
        days, due, paid = reads.repayment_curve(conn, loan_id)
        run_day = reads.queue_date(conn, web.today())
        decisions = [] if run_day is None else reads.decisions_for(conn, loan_id, run_day)
        attempt = _attempt(conn, loan_id, attempt_id)
        collection = account_extras(request, conn, principal, loan_id, as_of)
        complaints, legal_cases = _complaints_and_cases(conn, loan_id, as_of or web.today())
        rules = (
            contact_service.lender_rules(web.forbear.settings.data_dir, conn)
            if attempt is not None
            else None
        )
    borrower_zone = str(detail.borrower.get("timezone") or zone_name)
    decision: dict[str, Any] | None = None
    if attempt is not None and rules is not None:
        lang = gate_lang(request)
        rule_ids = blocked_by_of(attempt.blocked_by)
        row = {"blocked_by": rule_ids, "earliest_allowed_at": attempt.earliest_allowed_at}
        decision = {
            "id": attempt.id,
            "allowed": attempt.allowed,
            "channel": attempt.channel,
            "party": attempt.party,
            "blocked_by": rule_ids,
            "outcome": attempt.outcome,
            # the last sentence says when, in UTC: the page says it in the borrower's time
            "explanation": [] if attempt.allowed else explain(row, rules, lang)[:-1],
            "earliest_local": _local(attempt.earliest_allowed_at, borrower_zone),
            "zone": borrower_zone,
        }
    purposes = default_policy().purposes(principal.role)
    chart = {
        "kind": "lines",
        "x": [d.isoformat() for d in days],
        "due": [round(v / 100, 2) for v in due],
        "paid": [round(v / 100, 2) for v in paid],
    }
    return page(
        request,
        "account.html",
        principal,
        status_code=status_code,
        d=detail,
        events=events,
        decisions=decisions,
        run_day=run_day,
        decision=decision,
        recorded=recorded,
        hold_id=hold_id,
        revealed=revealed,
        channels=[c.value for c in AGENT_CHANNELS],
        outcomes=[o.value for o in CollectorOutcome],
        purposes={p: sorted(f.value for f in fields) for p, fields in purposes.items()},
        chart=chart if days else None,
        local=lambda m: _local(m, zone_name),
        complaints=complaints,
        legal_cases=legal_cases,
        **collection,
        **(extra or {}),
    )


def _complaints_and_cases(
    conn: Connection, loan_id: int, as_of: date
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The loan's complaints with their SLA clocks (the description stays in the
    compliance console) and its legal cases with their stage, for the timeline."""
    from forbear.services.complaints import list_complaints
    from forbear.store.legal import LegalCase

    complaints = list_complaints(conn, as_of=as_of, loan_ids=[loan_id]).sort(
        "received_on", descending=True
    )
    cases = conn.execute(
        select(LegalCase.id, LegalCase.stage, LegalCase.opened_on, LegalCase.stage_on)
        .where(LegalCase.loan_id == loan_id)
        .order_by(LegalCase.id.desc())
    ).all()
    return complaints.to_dicts(), [
        {"case_id": c.id, "stage": c.stage, "opened_on": c.opened_on, "stage_on": c.stage_on}
        for c in cases
    ]


@router.get("/accounts/{loan_id}")
def account_page(
    request: Request,
    principal: Viewer,
    loan_id: LoanId,
    attempt: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    recorded: Annotated[str | None, Query(max_length=32)] = None,
    hold: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Response:
    shown = recorded if recorded in {o.value for o in CollectorOutcome} else None
    return _account_page(
        request, principal, loan_id, attempt_id=attempt, recorded=shown, hold_id=hold
    )


def _optional_int(value: str, field: str) -> int | None:
    if not value.strip():
        return None
    try:
        number = int(value)
    except ValueError:
        raise ValidationError(field, "not a number") from None
    if not 1 <= number <= MAX_ID:
        raise ValidationError(field, "out of range")
    return number


@router.post("/accounts/{loan_id}/contact")
def contact(
    request: Request,
    principal: Contactor,
    loan_id: LoanId,
    channel: Annotated[str, Form(max_length=16)],
    contact_point_id: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    web = state_of(request)
    lang = gate_lang(request)
    point = _optional_int(contact_point_id, "contact_point_id")
    with web.forbear.transaction() as conn:
        rules = contact_service.lender_rules(web.forbear.settings.data_dir, conn)
        done = contacting.contact(
            conn,
            rules,
            principal,
            loan_id=loan_id,
            channel=channel,
            at=web.now(),
            book_date=reads.book_date(conn, web.today()),
            lang=lang,
            contact_point_id=point,
        )
    target = f"/accounts/{loan_id}?attempt={done.decision.attempt_id}#decision"
    return RedirectResponse(target, 303)


@router.post("/accounts/{loan_id}/attempts/{attempt_id}/outcome")
def outcome(
    request: Request,
    principal: Contactor,
    loan_id: LoanId,
    attempt_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    outcome: Annotated[str, Form(max_length=32)],
) -> Response:
    try:
        chosen = CollectorOutcome(outcome)
    except ValueError:
        known = ", ".join(o.value for o in CollectorOutcome)
        raise ValidationError("outcome", f"one of: {known}") from None
    web = state_of(request)
    with web.forbear.transaction() as conn:
        done = contacting.record(
            conn,
            principal,
            attempt_id=attempt_id,
            outcome=chosen,
            at=web.now(),
            book_date=reads.book_date(conn, web.today()),
            loan_id=loan_id,
        )
    done.raise_if_conflict()
    target = f"/accounts/{loan_id}?recorded={chosen.value}"
    if done.hold_id is not None:
        target += f"&hold={done.hold_id}"
    if chosen is CollectorOutcome.PROMISE:  # on to the promise form, linked to the attempt
        return RedirectResponse(f"{target}&promise_attempt={attempt_id}#promise", 303)
    return RedirectResponse(target + "#timeline", 303)


@router.post("/accounts/{loan_id}/unmask")
def unmask(
    request: Request,
    principal: Unmasker,
    loan_id: LoanId,
    field: Annotated[str, Form(max_length=32)],
    purpose: Annotated[str, Form(max_length=32)],
) -> Response:
    """One field in clear, within the user's unmask limits (:mod:`forbear.web.unmasking`):
    beyond them the account page answers 429 with the reason beside the form."""
    web = state_of(request)
    now = web.now()
    with web.forbear.transaction() as conn:
        scope.require_loan(conn, principal, loan_id, now, reads.book_date(conn, web.today()))
        borrower_id = conn.execute(select(Loan.borrower_id).where(Loan.id == loan_id)).scalar_one()
        refused = unmasking.admit(
            conn,
            principal,
            borrower_id=int(borrower_id),
            field=field,
            purpose=purpose,
            limits=unmasking.limits_for(web.forbear.settings, principal.role),
            now=now,
        )
        if refused is None:
            value = privacy.reveal(
                conn,
                web.forbear.vault,
                actor=principal.actor,
                role=principal.role,
                borrower_id=int(borrower_id),
                field=field,
                purpose=purpose,
            )
    if refused is not None:
        t = translator(request)
        response = _account_page(
            request,
            principal,
            loan_id,
            status_code=429,
            extra={"unmask_error": unmasking.message(t, refused)},
        )
        response.headers["Retry-After"] = str(refused.retry_after)
        return response
    return _account_page(
        request, principal, loan_id, revealed={"field": field, "purpose": purpose, "value": value}
    )
