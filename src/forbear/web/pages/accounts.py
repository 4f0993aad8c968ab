"""Account pages: the search list and one account (masked personal data, state, scores
with reasons, timeline, the contact form that asks the gate first, outcomes, audited
unmasking).

After a contact or an outcome the browser is redirected (post, redirect, get) to the
account page, which reads the recorded attempt back from the database: a reload never
contacts anyone twice. An unmasked value is shown on the answer to its POST only, never
put in a URL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from forbear.domain.errors import ValidationError
from forbear.domain.ledger import DEFAULT_BUCKETS
from forbear.services import contacts as contact_service
from forbear.services import notes
from forbear.services import unmasking as unmask_service
from forbear.services.accounts import search, views
from forbear.services.contacts import CollectorOutcome, callbacks
from forbear.services.days import book_date
from forbear.web import forms, unmasking
from forbear.web.deps import gate_lang, require_any, state_of, translator
from forbear.web.pages import account_parts
from forbear.web.pages.render import page
from forbear.web.pages.workbench import agent_queue
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
    q: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    web = state_of(request)
    chosen = bucket if bucket in DEFAULT_BUCKETS.labels else None
    if q is not None and q.strip():
        return _search_page(request, principal, q)
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


SEARCH_LABELS = {"q": "workbench.search.label"}


def _search_page(request: Request, principal: Principal, q: str) -> Response:
    """Accounts found by phone, ID number, name or reference (audited without the query);
    a name is looked for in the searcher's own queue (:mod:`forbear.services.accounts.search`)."""
    web = state_of(request)
    t = translator(request)
    mine = [i.loan_id for i in agent_queue(request, principal).items]
    try:
        with web.forbear.transaction() as conn:
            results = search.search(
                conn,
                web.forbear.vault,
                principal.as_actor(),
                q,
                at=web.now(),
                as_of=book_date(conn, web.today()),
                queue_loan_ids=mine,
            )
    except ValidationError as exc:
        return page(
            request,
            "accounts.html",
            principal,
            status_code=422,
            found=None,
            results=None,
            errors=forms.refusal(t, exc, SEARCH_LABELS, default="q"),
            q=q,
            loan_ref="",
            bucket=None,
            buckets=DEFAULT_BUCKETS.labels,
        )
    if len(results) == 1:
        return RedirectResponse(f"/accounts/{results[0].loan_id}#contact", 303)
    return page(
        request,
        "accounts.html",
        principal,
        found=None,
        results=results,
        q=q,
        loan_ref="",
        bucket=None,
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
    if attempt is None and shown is None and hold is None:
        # an allowed call of this account still without an outcome comes back to the form
        attempt = account_parts.pending_attempt(request, principal, loan_id)
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
    purpose: Annotated[str, Form(max_length=16)] = "collect",
) -> Response:
    web = state_of(request)
    lang = gate_lang(request)
    point = _optional_int(contact_point_id, "contact_point_id")
    chosen = contact_service.purpose_of(purpose)  # refused before anything is written
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
            purpose=chosen,
        )
    target = f"/accounts/{loan_id}?attempt={done.decision.attempt_id}#decision"
    return RedirectResponse(target, 303)


@router.post("/accounts/{loan_id}/attempts/{attempt_id}/outcome")
def outcome(
    request: Request,
    principal: Contactor,
    loan_id: LoanId,
    attempt_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    outcome: Annotated[str, Form(max_length=32)] = "",
    note: Annotated[str, Form(max_length=4000)] = "",
    then: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    """What the attempt came to, with the collector's note, in one step; ``then=next``
    goes on to the next account of the queue (call, outcome with note, next: three
    interactions per account). A refusal is shown beside its field, keeping the values."""
    web = state_of(request)
    values = {"outcome": outcome, "note": note}
    try:
        if not outcome:
            raise ValidationError("outcome", "required")
        try:
            chosen = CollectorOutcome(outcome)
        except ValueError:
            raise ValidationError("outcome", "required") from None
        with web.forbear.transaction() as conn:
            done = notes.record_outcome_with_note(
                conn,
                web.forbear.vault,
                principal.as_actor(),
                loan_id=loan_id,
                attempt_id=attempt_id,
                outcome=chosen.value,
                note=note,
                now=web.now(),
                today=web.today(),
            )
    except ValidationError as exc:
        t = translator(request)
        return account_parts.account_page(
            request,
            principal,
            loan_id,
            attempt_id=attempt_id,
            status_code=422,
            extra={"errors": forms.refusal(t, exc, OUTCOME_LABELS), "values": values},
        )
    done.raise_if_conflict()
    target = f"/accounts/{loan_id}?recorded={chosen.value}"
    if done.hold_id is not None:
        target += f"&hold={done.hold_id}"
    if chosen is CollectorOutcome.PROMISE:  # on to the promise form, linked to the attempt
        return RedirectResponse(f"{target}&promise_attempt={attempt_id}#promise", 303)
    if then == "next":
        return RedirectResponse(f"/workbench/next?after={loan_id}", 303)
    return RedirectResponse(target + "#timeline", 303)


OUTCOME_LABELS = {"outcome": "outcome.title", "note": "workbench.note.label"}
NOTE_LABELS = {"note": "workbench.note.label"}
CALLBACK_LABELS = {"callback_at": "workbench.callback.at"}


@router.post("/accounts/{loan_id}/notes")
def add_note(
    request: Request,
    principal: Contactor,
    loan_id: LoanId,
    note: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """A note on the account (encrypted at rest, :mod:`forbear.services.notes`)."""
    web = state_of(request)
    try:
        with web.forbear.transaction() as conn:
            notes.add_note(
                conn,
                web.forbear.vault,
                principal.as_actor(),
                loan_id=loan_id,
                text=note,
                now=web.now(),
                today=web.today(),
            )
    except ValidationError as exc:
        t = translator(request)
        return account_parts.account_page(
            request,
            principal,
            loan_id,
            status_code=422,
            extra={"errors": forms.refusal(t, exc, NOTE_LABELS), "values": {"note": note}},
        )
    return RedirectResponse(f"/accounts/{loan_id}?noted=1#notes", 303)


def _local_time(value: str) -> datetime | None:
    """``YYYY-MM-DDTHH:MM`` (a datetime-local field) as a naive local time."""
    if not value.strip():
        return None
    try:
        return datetime.strptime(value.strip()[:16].replace(" ", "T"), "%Y-%m-%dT%H:%M")
    except ValueError:
        raise ValidationError("callback_at", "bad_time") from None


@router.post("/accounts/{loan_id}/callbacks")
def book_callback(
    request: Request,
    principal: Contactor,
    loan_id: LoanId,
    callback_at: Annotated[str, Form(max_length=32)] = "",
    attempt_id: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Book a callback at the borrower's local time, through the gate
    (:mod:`forbear.services.contacts.callbacks`): a refusal names the rule beside the field."""
    web = state_of(request)
    t = translator(request)
    values = {"callback_at": callback_at}
    try:
        local_time = _local_time(callback_at)
        with web.forbear.transaction() as conn:
            rules = contact_service.lender_rules(web.forbear.settings.data_dir, conn)
            callbacks.schedule_callback(
                conn,
                rules,
                principal.as_actor(),
                loan_id=loan_id,
                local_time=local_time,
                now=web.now(),
                today=web.today(),
                lang=gate_lang(request),
                agent_ref=principal.agent_ref,
                attempt_id=_optional_int(attempt_id, "attempt_id"),
            )
    except ValidationError as exc:
        errors = forms.refusal(t, exc, CALLBACK_LABELS, default="callback_at")
        return account_parts.account_page(
            request,
            principal,
            loan_id,
            status_code=422,
            extra={"errors": errors, "values": values},
        )
    except callbacks.CallbackRefused as refused:
        words = t("workbench.callback.refused", rules=", ".join(refused.rule_ids))
        lines = [words, *refused.explanation]
        if refused.earliest_allowed_at is not None:
            zone = account_parts.zone_of_borrower(request, principal, loan_id)
            at = account_parts.local(refused.earliest_allowed_at, zone)
            lines.append(t("contact.earliest", at=at, zone=zone))
        return account_parts.account_page(
            request,
            principal,
            loan_id,
            status_code=409,
            extra={"errors": {"callback_at": " ".join(lines)}, "values": values},
        )
    return RedirectResponse(f"/accounts/{loan_id}?booked=1#callback", 303)


@router.post("/accounts/{loan_id}/callbacks/close")
def close_callback(
    request: Request,
    principal: Contactor,
    loan_id: LoanId,
    callback_id: Annotated[int, Form(ge=1, le=MAX_ID)],
    status: Annotated[str, Form(max_length=16)] = "done",
) -> Response:
    """An agreed callback called back (``done``) or dropped (``cancelled``)."""
    web = state_of(request)
    with web.forbear.transaction() as conn:
        callbacks.close_callback(
            conn,
            principal.as_actor(),
            callback_id,
            loan_id=loan_id,
            status=status,
            now=web.now(),
            today=web.today(),
        )
    return RedirectResponse(f"/accounts/{loan_id}#callback", 303)


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
            rules=contact_service.lender_rules(web.forbear.settings.data_dir, conn),
            lang=gate_lang(request),
        )
    if isinstance(answer, unmask_service.UnmaskBlocked):
        return account_parts.account_page(
            request,
            principal,
            loan_id,
            status_code=409,
            extra={"unmask_error": unmasking.blocked_message(translator(request), answer)},
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
    assert isinstance(answer, unmask_service.Unmasked)
    return account_parts.account_page(
        request,
        principal,
        loan_id,
        revealed={"field": field, "purpose": purpose, "value": answer.value},
    )
