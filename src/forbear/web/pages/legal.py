"""The legal console on the pages (role legal): the review queue, cases, a case's stages
and its documents. It shows only accounts in the caller's scope, and a case out of scope
answers 404. Every page calls one use case (:mod:`forbear.services.legal.desk`,
:mod:`forbear.services.documents.desk`), which checks the permission and the scope, as
the API's routes do; both render through :mod:`forbear.web.collection_views`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from forbear.domain.errors import ValidationError
from forbear.domain.legal.lifecycle import ORDER, Stage
from forbear.services.documents import desk as documents_desk
from forbear.services.legal import desk as legal_desk
from forbear.web import collection_views as views
from forbear.web.deps import require_any, state_of, translator
from forbear.web.pages.console import whole
from forbear.web.pages.render import page
from forbear.web.permissions import MAX_ID
from forbear.web.sessions import Principal

router = APIRouter()
Lawyer = Annotated[Principal, Depends(require_any("legal.manage"))]
CaseId = Annotated[int, Path(ge=1, le=MAX_ID)]
DOCUMENTS = (
    "demand-letter.pdf",
    "litigation-package.pdf",
    "parties.csv",
    "contract.csv",
    "amounts.csv",
    "findings.csv",
    "payments.csv",
    "demands.csv",
    "contacts.csv",
    "case_events.csv",
    "case_costs.csv",
)


@router.get("/legal")
def legal_console(request: Request, principal: Lawyer) -> Response:
    web = state_of(request)
    actor, now, today = principal.as_actor(), web.now(), web.today()
    with web.forbear.transaction() as conn:
        day, queue = legal_desk.review_queue(conn, actor, now=now, today=today)
        cases = legal_desk.cases(conn, actor, now=now, today=today, vault=web.forbear.vault)
        _, watch = legal_desk.watch(conn, actor, now=now, today=today)
    return page(
        request,
        "collection/legal.html",
        principal,
        as_of=day,
        queue=queue,
        counts=views.case_list(cases, translator(request), None).counts,
        watch=[views.WatchItem(**row) for row in watch],
        stages=[s.value for s in Stage],
    )


@router.get("/legal/cases")
def legal_cases(
    request: Request,
    principal: Lawyer,
    stage: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    web, t = state_of(request), translator(request)
    chosen = Stage(stage) if stage in {s.value for s in Stage} else None
    with web.forbear.transaction() as conn:
        found = legal_desk.cases(
            conn, principal.as_actor(), now=web.now(), today=web.today(), vault=web.forbear.vault
        )
    return page(
        request,
        "collection/legal_cases.html",
        principal,
        cases=views.case_list(found, t, chosen),
        chosen=chosen.value if chosen else None,
        stages=[s.value for s in Stage],
    )


@router.get("/legal/cases/{case_id}")
def legal_case(
    request: Request,
    principal: Lawyer,
    case_id: CaseId,
    done: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    web, t = state_of(request), translator(request)
    actor, now, today = principal.as_actor(), web.now(), web.today()
    with web.forbear.transaction() as conn:
        found = legal_desk.case(conn, actor, case_id, now=now, today=today, vault=web.forbear.vault)
        history = legal_desk.history(conn, actor, case_id, now=now, today=today)
    case = views.case_out(found, t)
    current = Stage(case.stage)
    if current.is_final:
        nexts: list[str] = []
    else:
        later = [s.value for s in ORDER if ORDER.index(s) > ORDER.index(current)]
        nexts = later + [s.value for s in Stage if s not in ORDER and s is not current]
    return page(
        request,
        "collection/legal_case.html",
        principal,
        case=case,
        history=history,
        nexts=list(dict.fromkeys(nexts)),
        documents=[] if current.is_final else [f"case-{case_id}-{n}" for n in DOCUMENTS],
        done=done if done in ("opened", "advanced") else None,
    )


@router.post("/legal/cases")
def open_case(
    request: Request, principal: Lawyer, loan_id: Annotated[str, Form(max_length=12)]
) -> Response:
    if not loan_id.strip():
        raise ValidationError("loan_id", "required")
    number = whole(loan_id, "loan_id")
    web = state_of(request)
    with web.forbear.transaction() as conn:
        case = legal_desk.open_case(
            conn, principal.as_actor(), number, now=web.now(), today=web.today()
        )
    return RedirectResponse(f"/legal/cases/{case.id}?done=opened", 303)


@router.post("/legal/cases/{case_id}/advance")
def advance_case(
    request: Request,
    principal: Lawyer,
    case_id: CaseId,
    to: Annotated[str, Form(max_length=20)],
    court: Annotated[str, Form(max_length=200)] = "",
    case_number: Annotated[str, Form(max_length=100)] = "",
    evidence_ref: Annotated[str, Form(max_length=200)] = "",
    reason: Annotated[str, Form(max_length=200)] = "",
    notes: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        legal_desk.move(
            conn,
            principal.as_actor(),
            case_id,
            to,
            now=web.now(),
            today=web.today(),
            court=court.strip() or None,
            case_number=case_number.strip() or None,
            notes=notes.strip() or None,
            reason=reason.strip() or None,
            evidence_ref=evidence_ref.strip() or None,
            zone=web.forbear.settings.zone,
            vault=web.forbear.vault,
        )
    return RedirectResponse(f"/legal/cases/{case_id}?done=advanced", 303)


@router.get("/legal/cases/{case_id}/documents/{name}")
def download(
    request: Request,
    principal: Lawyer,
    case_id: CaseId,
    name: Annotated[str, Path(max_length=80)],
) -> Response:
    web = state_of(request)
    with web.forbear.transaction() as conn:  # unmasking is audited: a write
        docs = documents_desk.documents(
            conn,
            principal.as_actor(),
            case_id,
            now=web.now(),
            today=web.today(),
            vault=web.forbear.vault,
        )
    return views.document_download(docs, name)
