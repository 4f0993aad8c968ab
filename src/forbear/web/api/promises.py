"""Promises to pay over the API: take one (``contact.make``: it comes from a
conversation), list a loan's, withdraw one. Each route parses, calls one use case of
:mod:`forbear.services.promises.desk` (which checks the permission and the scope: a
promise on a loan out of scope is a 404) in one transaction, and renders."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from forbear.services.promises import desk
from forbear.web.collection_views import (
    PromiseCancelIn,
    PromiseIn,
    PromiseList,
    PromiseOut,
    promise_rows,
)
from forbear.web.deps import require_any, state_of
from forbear.web.permissions import ACCOUNT_VIEW, CONTACT, MAX_ID
from forbear.web.sessions import Principal

router = APIRouter(tags=["collection"])
Viewer = Annotated[Principal, Depends(require_any(*ACCOUNT_VIEW))]
Contactor = Annotated[Principal, Depends(require_any(*CONTACT))]
LoanId = Annotated[int, Path(ge=1, le=MAX_ID, description="the loan's internal id")]


@router.post(
    "/accounts/{loan_id}/promises",
    response_model=PromiseOut,
    status_code=201,
    summary="Take a promise to pay on a loan (from a conversation: source agent)",
)
def add_promise(
    request: Request, principal: Contactor, loan_id: LoanId, body: PromiseIn
) -> PromiseOut:
    web, actor = state_of(request), principal.as_actor()
    with web.forbear.transaction() as conn:
        promise_id = desk.take(
            conn,
            actor,
            loan_id,
            amount=body.amount_fen,
            promised_on=body.promised_on,
            now=web.now(),
            today=web.today(),
            contact_attempt_id=body.contact_attempt_id,
            replace=body.replace,
        )
        rows = promise_rows(desk.of_loan(conn, actor, loan_id, now=web.now(), today=web.today()))
    return next(r for r in rows if r.promise_id == promise_id)


@router.get("/accounts/{loan_id}/promises", response_model=PromiseList, summary="A loan's promises")
def get_promises(request: Request, principal: Viewer, loan_id: LoanId) -> PromiseList:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        found = desk.of_loan(conn, principal.as_actor(), loan_id, now=web.now(), today=web.today())
    return PromiseList(loan_id=loan_id, items=promise_rows(found))


@router.post(
    "/promises/{promise_id}/cancel",
    response_model=PromiseOut,
    summary="Withdraw an open promise (the borrower takes it back, or a mistake)",
)
def cancel_promise(
    request: Request,
    principal: Contactor,
    promise_id: Annotated[int, Path(ge=1, le=MAX_ID, description="the promise's id")],
    body: PromiseCancelIn | None = None,
) -> PromiseOut:
    web, actor = state_of(request), principal.as_actor()
    with web.forbear.transaction() as conn:
        loan_id = desk.withdraw(
            conn,
            actor,
            promise_id,
            now=web.now(),
            today=web.today(),
            reason=body.reason if body is not None else None,
            vault=web.forbear.vault,
        )
        rows = promise_rows(desk.of_loan(conn, actor, loan_id, now=web.now(), today=web.today()))
    return next(r for r in rows if r.promise_id == promise_id)
