"""Contacts: ask the compliance gate and record the attempt; record its outcome.

A contact has a purpose (issue 17): ``collect`` (the default) or ``locate``, which asks a
third party only to have the debtor call back; any other value is a 422 naming the field.
Every answer carries its explanation, allowed or not.

A blocked contact is still a ``201``: the request (ask the gate, record the answer)
succeeded and the blocked attempt is stored with its rule ids (DESIGN.md "Online paths");
``allowed`` says whether the collector may go ahead.
"""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path, Request

from forbear.services import contacts as contact_service
from forbear.web.api.schemas import ContactOut, ContactRequest, OutcomeOut, OutcomeRequest
from forbear.web.deps import gate_lang, require_any, state_of
from forbear.web.permissions import CONTACT, MAX_ID
from forbear.web.sessions import Principal

router = APIRouter(tags=["contacts"])
Contactor = Annotated[Principal, Depends(require_any(*CONTACT))]
LoanId = Annotated[int, Path(ge=1, le=MAX_ID)]
AttemptId = Annotated[int, Path(ge=1, le=MAX_ID)]


def contact_out(done: contact_service.Contacted) -> ContactOut:
    decision = done.decision
    zone = str(decision.row["timezone"])
    earliest = decision.earliest_allowed_at
    local = earliest.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M") if earliest else None
    return ContactOut(
        attempt_id=int(decision.attempt_id or 0),
        loan_id=decision.loan_id,
        channel=decision.channel.value,
        party=decision.party.value,
        purpose=decision.purpose.value,
        at=decision.at,
        allowed=decision.allowed,
        blocked_by=list(decision.blocked_by),
        earliest_allowed_at=earliest,
        earliest_allowed_local=local,
        timezone=zone,
        explanation=done.explanation,
    )


@router.post(
    "/accounts/{loan_id}/contacts",
    response_model=ContactOut,
    status_code=201,
    summary="Ask the compliance gate now and record the attempt (allowed or blocked)",
)
def make_contact(
    request: Request, principal: Contactor, loan_id: LoanId, body: ContactRequest
) -> ContactOut:
    web = state_of(request)
    lang = gate_lang(request)
    with web.forbear.transaction() as conn:
        rules = contact_service.lender_rules(web.forbear.settings.data_dir, conn)
        done = contact_service.contact(
            conn,
            rules,
            principal.as_actor(),
            loan_id=loan_id,
            channel=body.channel.value,
            now=web.now(),
            today=web.today(),
            lang=lang,
            contact_point_id=body.contact_point_id,
            template_code=body.template_code,
            purpose=body.purpose,
        )
    return contact_out(done)


@router.post(
    "/contacts/{attempt_id}/outcome",
    response_model=OutcomeOut,
    summary="What an allowed attempt came to (once); disputes and hardship set a hold",
)
def record_outcome(
    request: Request, principal: Contactor, attempt_id: AttemptId, body: OutcomeRequest
) -> OutcomeOut:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        done = contact_service.record_collector_outcome(
            conn,
            principal.as_actor(),
            attempt_id=attempt_id,
            outcome=body.outcome,
            now=web.now(),
            today=web.today(),
        )
    done.raise_if_conflict()
    return OutcomeOut(
        attempt_id=done.attempt_id,
        loan_id=done.loan_id,
        outcome=done.outcome.value,
        stored_outcome=done.stored.value,
        hold_id=done.hold_id,
    )
