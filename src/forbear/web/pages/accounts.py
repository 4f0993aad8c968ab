"""Account pages: the search list and one account (masked personal data, state, scores
with reasons, timeline, the contact form that asks the gate first, outcomes, audited
unmasking).

After a contact or an outcome the browser is redirected (post, redirect, get) to the
account page, which reads the recorded attempt back from the database: a reload never
contacts anyone twice. An unmasked value is shown on the answer to its POST only, never
put in a URL.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from forbear.domain.errors import ValidationError
from forbear.domain.ledger import DEFAULT_BUCKETS
from forbear.services import contacts as contact_service
from forbear.services import unmasking as unmask_service
from forbear.services.accounts import views
from forbear.services.contacts import CollectorOutcome
from forbear.services.days import book_date
from forbear.web import unmasking
from forbear.web.deps import gate_lang, require_any, state_of, translator
from forbear.web.pages import account_parts
from forbear.web.pages.render import page
from forbear.web.permissions import ACCOUNT_VIEW, CONTACT, MAX_ID, UNMASK
from forbear.web.sessions import Principal

router = APIRouter()
Viewer = Annotated[Principal, Depends(require_any(*ACCOUNT_VIEW))]
Contactor = Annotated[Principal, Depends(require_any(*CONTACT))]
Unmasker = Annotated[Principal, Depends(require_any(*UNMASK))]
LoanId = Annotated[int, Path(ge=1, le=MAX_ID)]


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
        found = views.list_accounts(
            conn,
            web.forbear.vault,
            principal.as_actor(),
            at=web.now(),
            as_of=book_date(conn, web.today()),
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
    return account_parts.account_page(
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
        done = contact_service.contact(
            conn,
            rules,
            principal.as_actor(),
            loan_id=loan_id,
            channel=channel,
            now=web.now(),
            today=web.today(),
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
        done = contact_service.record_collector_outcome(
            conn,
            principal.as_actor(),
            attempt_id=attempt_id,
            outcome=chosen,
            now=web.now(),
            today=web.today(),
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
    with web.forbear.transaction() as conn:
        answer = unmask_service.unmask(
            conn,
            web.forbear.vault,
            principal.as_actor(),
            loan_id=loan_id,
            field=field,
            purpose=purpose,
            limits=unmasking.limits_for(web.forbear.settings, principal.role),
            now=web.now(),
            today=web.today(),
        )
    refused = answer if isinstance(answer, unmask_service.UnmaskThrottled) else None
    if refused is not None:
        t = translator(request)
        response = account_parts.account_page(
            request,
            principal,
            loan_id,
            status_code=429,
            extra={"unmask_error": unmasking.message(t, refused)},
        )
        response.headers["Retry-After"] = str(refused.retry_after)
        return response
    assert not isinstance(answer, unmask_service.UnmaskThrottled)
    return account_parts.account_page(
        request,
        principal,
        loan_id,
        revealed={"field": field, "purpose": purpose, "value": answer.value},
    )
