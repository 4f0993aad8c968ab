"""The legal console over the API (``legal.manage``): the review queue, cases by stage,
open a case, move it forward, its documents (unmasking audited) and the limitation watch.
Each route parses, calls one use case of :mod:`forbear.services.legal.desk` or
:mod:`forbear.services.documents.desk` (permission and scope checked there: a case on a
loan out of scope is a 404 before anything of it is read; lists show only loans in
scope), and renders."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from forbear.domain.legal.lifecycle import Stage
from forbear.services.documents import desk as documents_desk
from forbear.services.legal import desk
from forbear.web import legal_views
from forbear.web.collection_views import (
    CaseList,
    CaseOpenIn,
    CaseOut,
    DocumentsOut,
    LegalQueueOut,
    QueueEntryOut,
    WatchItem,
    WatchOut,
    case_list,
    case_out,
)
from forbear.web.deps import WebState, require_any, state_of, translator
from forbear.web.legal_views import AdvanceIn, CaseDetailOut, CostIn, QueuePageOut
from forbear.web.permissions import MAX_ID
from forbear.web.sessions import Principal

router = APIRouter(tags=["collection"])
Lawyer = Annotated[Principal, Depends(require_any("legal.manage"))]
CaseId = Annotated[int, Path(ge=1, le=MAX_ID, description="the legal case's id")]


@router.get("/legal/queue", response_model=LegalQueueOut, summary="The legal review queue")
def legal_queue(request: Request, principal: Lawyer) -> LegalQueueOut:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        day, items = desk.review_queue(conn, principal.as_actor(), now=web.now(), today=web.today())
    return LegalQueueOut(as_of=day, items=[QueueEntryOut(**i.__dict__) for i in items])


@router.get(
    "/legal/queue/page",
    response_model=QueuePageOut,
    summary="One page of the legal review queue, sorted and filtered",
)
def legal_queue_page(
    request: Request,
    principal: Lawyer,
    sort: Annotated[str, Query(pattern=r"^-?(queued|amount|limitation)$")] = "queued",
    stage: Annotated[str | None, Query(max_length=20)] = None,
    min_yuan: Annotated[str | None, Query(alias="min", max_length=20)] = None,
    max_yuan: Annotated[str | None, Query(alias="max", max_length=20)] = None,
    within: Annotated[int | None, Query(ge=0, le=3660)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = 50,
) -> QueuePageOut:
    web = state_of(request)
    wanted = legal_views.queue_filter(
        sort=sort,
        stage=stage,
        min_yuan=min_yuan,
        max_yuan=max_yuan,
        within=None if within is None else str(within),
        page=page,
        per_page=per_page,
    )
    with web.forbear.transaction() as conn:
        found = desk.review_page(
            conn, principal.as_actor(), wanted, now=web.now(), today=web.today()
        )
    return legal_views.queue_page_out(found)


@router.get("/legal/cases", response_model=CaseList, summary="Legal cases, by stage")
def legal_cases(request: Request, principal: Lawyer, stage: Stage | None = None) -> CaseList:
    web, t = state_of(request), translator(request)
    with web.forbear.transaction() as conn:
        found = desk.cases(
            conn, principal.as_actor(), now=web.now(), today=web.today(), vault=web.forbear.vault
        )
    return case_list(found, t, stage)


@router.get("/legal/cases/{case_id}", response_model=CaseOut, summary="One legal case")
def legal_case(request: Request, principal: Lawyer, case_id: CaseId) -> CaseOut:
    web, t = state_of(request), translator(request)
    with web.forbear.transaction() as conn:
        found = desk.case(
            conn,
            principal.as_actor(),
            case_id,
            now=web.now(),
            today=web.today(),
            vault=web.forbear.vault,
        )
    return case_out(found, t)


@router.get(
    "/legal/cases/{case_id}/detail",
    response_model=CaseDetailOut,
    summary="A case's claim, masked debtor, limitation date, demands and costs",
)
def legal_case_detail(request: Request, principal: Lawyer, case_id: CaseId) -> CaseDetailOut:
    web, t = state_of(request), translator(request)
    with web.forbear.transaction() as conn:
        found = desk.case_page(
            conn,
            principal.as_actor(),
            case_id,
            now=web.now(),
            today=web.today(),
            vault=web.forbear.vault,
        )
    return legal_views.case_detail_out(found, t)


@router.post(
    "/legal/cases/{case_id}/costs",
    response_model=CaseOut,
    status_code=201,
    summary="Record a cost of a case (yuan; audited)",
)
def add_cost(request: Request, principal: Lawyer, case_id: CaseId, body: CostIn) -> CaseOut:
    web, t = state_of(request), translator(request)
    with web.forbear.transaction() as conn:
        case = desk.add_cost(
            conn,
            principal.as_actor(),
            case_id,
            kind=body.kind.value,
            amount=body.amount,
            incurred_on=body.incurred_on,
            now=web.now(),
            today=web.today(),
        )
    return case_out(case, t)


@router.post(
    "/legal/cases", response_model=CaseOut, status_code=201, summary="Open a case for a queued loan"
)
def open_case(request: Request, principal: Lawyer, body: CaseOpenIn) -> CaseOut:
    web, t = state_of(request), translator(request)
    with web.forbear.transaction() as conn:
        case = desk.open_case(
            conn, principal.as_actor(), body.loan_id, now=web.now(), today=web.today()
        )
    return case_out(case, t)


@router.post(
    "/legal/cases/{case_id}/advance",
    response_model=CaseOut,
    summary="Move a case forward (never backwards: 409 with the reason); a demand letter "
    "needs proof of delivery (422 without)",
)
def advance_case(request: Request, principal: Lawyer, case_id: CaseId, body: AdvanceIn) -> CaseOut:
    web, t = state_of(request), translator(request)
    proof_kind, proof_ref = body.proof()
    with web.forbear.transaction() as conn:
        case = desk.move(
            conn,
            principal.as_actor(),
            case_id,
            body.to.value,
            now=web.now(),
            today=web.today(),
            court=body.court,
            case_number=body.case_number,
            notes=body.notes,
            reason=body.reason,
            evidence_ref=body.evidence_ref,
            proof_kind=proof_kind,
            proof_ref=proof_ref,
            signed_on=body.signed_on,
            zone=web.forbear.settings.zone,
            vault=web.forbear.vault,
        )
    return case_out(case, t)


def documents(web: WebState, principal: Principal, case_id: int) -> Any:
    with web.forbear.transaction() as conn:  # unmasking is audited: a write
        return documents_desk.documents(
            conn,
            principal.as_actor(),
            case_id,
            now=web.now(),
            today=web.today(),
            vault=web.forbear.vault,
        )


@router.get(
    "/legal/cases/{case_id}/documents",
    response_model=DocumentsOut,
    summary="The case's documents (demand letter, litigation package); unmasking is audited",
)
def list_documents(request: Request, principal: Lawyer, case_id: CaseId) -> DocumentsOut:
    docs = documents(state_of(request), principal, case_id)
    return DocumentsOut(
        case_id=case_id, files=sorted(docs.files), limitation_date=docs.limitation_date
    )


@router.get(
    "/legal/cases/{case_id}/documents/{name}",
    summary="Download one document (PDF or CSV); unmasking is audited",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}, "text/csv": {}}}},
)
def download(
    request: Request,
    principal: Lawyer,
    case_id: CaseId,
    name: Annotated[str, Path(min_length=5, max_length=80, pattern=r"^[a-z0-9_\-]+\.(pdf|csv)$")],
) -> Response:
    web = state_of(request)
    with web.forbear.transaction() as conn:  # unmasking is audited: a write
        found = documents_desk.download(
            conn,
            principal.as_actor(),
            case_id,
            name,
            now=web.now(),
            today=web.today(),
            vault=web.forbear.vault,
        )
    return legal_views.download_response(found)


@router.get(
    "/legal/limitation",
    response_model=WatchOut,
    summary="Limitation dates of queued accounts and open cases, expiring first",
)
def limitation(
    request: Request,
    principal: Lawyer,
    within: Annotated[int | None, Query(ge=0, le=3650)] = None,
) -> WatchOut:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        day, rows = desk.watch(
            conn, principal.as_actor(), now=web.now(), today=web.today(), within=within
        )
    return WatchOut(as_of=day, items=[WatchItem(**row) for row in rows])
