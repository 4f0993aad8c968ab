"""The legal console on the pages (role legal): the review queue (paged, sorted by claim
amount or limitation date, filtered), a confirm step before a case is opened, cases, a
case's page (claim, masked debtor, limitation date, demands with their proof of delivery,
costs) and its documents. It shows only accounts in the caller's scope, and a case out of
scope answers 404. Every page calls one use case (:mod:`forbear.services.legal.desk`,
:mod:`forbear.services.documents.desk`), which checks the permission and the scope, as the
API's routes do. A refused form comes back with the reason beside its field, in the
reader's language, and with what was typed.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from forbear.domain.errors import Conflict, ValidationError
from forbear.domain.legal.lifecycle import ORDER, CostKind, Stage
from forbear.domain.legal.refusals import LegalRefused
from forbear.services.documents import desk as documents_desk
from forbear.services.documents.names import SUFFIXES, TITLES_ZH, file_name
from forbear.services.legal import desk as legal_desk
from forbear.services.legal.review import SORTS, WAITING, QueueFilter
from forbear.web import collection_views as views
from forbear.web import legal_views
from forbear.web.deps import require_any, state_of, translator
from forbear.web.pages.console import form_date, whole
from forbear.web.pages.render import page
from forbear.web.permissions import MAX_ID
from forbear.web.sessions import Principal

router = APIRouter()
Lawyer = Annotated[Principal, Depends(require_any("legal.manage"))]
CaseId = Annotated[int, Path(ge=1, le=MAX_ID)]
LoanId = Annotated[int, Path(ge=1, le=MAX_ID)]
PER_PAGE_CHOICES = (25, 50, 100)


@router.get("/legal")
def legal_console(
    request: Request,
    principal: Lawyer,
    sort: Annotated[str | None, Query(max_length=12)] = None,
    stage: Annotated[str | None, Query(max_length=20)] = None,
    min_yuan: Annotated[str | None, Query(alias="min", max_length=20)] = None,
    max_yuan: Annotated[str | None, Query(alias="max", max_length=20)] = None,
    within: Annotated[str | None, Query(max_length=5)] = None,
    page_no: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Response:
    web, t = state_of(request), translator(request)
    actor, now, today = principal.as_actor(), web.now(), web.today()
    typed = {
        "sort": sort or "",
        "stage": stage or "",
        "min": min_yuan or "",
        "max": max_yuan or "",
        "within": within or "",
    }
    errors: dict[str, str] = {}
    try:
        wanted = legal_views.queue_filter(
            sort=sort,
            stage=stage,
            min_yuan=min_yuan,
            max_yuan=max_yuan,
            within=within,
            page=page_no,
            per_page=per_page,
        )
    except LegalRefused as exc:
        field, words = legal_views.refusal_words(t, exc)
        errors[{"min_amount": "min", "max_amount": "max"}.get(field, field)] = words
        wanted = QueueFilter(per_page=per_page)
    with web.forbear.transaction() as conn:
        found = legal_desk.review_page(conn, actor, wanted, now=now, today=today)
        cases = legal_desk.cases(conn, actor, now=now, today=today, vault=web.forbear.vault)
        _, watch = legal_desk.watch(conn, actor, now=now, today=today)
    return page(
        request,
        "collection/legal.html",
        principal,
        status_code=422 if errors else 200,
        as_of=found.as_of,
        found=found,
        link=lambda **changes: legal_views.page_link(found.filter, **changes),
        sorts=SORTS,
        waiting=WAITING,
        typed=typed,
        errors=errors,
        per_page_choices=PER_PAGE_CHOICES,
        counts=views.case_list(cases, t, None).counts,
        watch=[views.WatchItem(**row) for row in watch],
        stages=[s.value for s in Stage],
    )


@router.get("/legal/queue/{loan_id}/open")
def confirm_open(request: Request, principal: Lawyer, loan_id: LoanId) -> Response:
    """The confirm step: what opening a case for this loan means, its claim and
    limitation date, and one button; nothing is written until it is pressed."""
    web = state_of(request)
    with web.forbear.transaction() as conn:
        found = legal_desk.queued_entry(
            conn, principal.as_actor(), loan_id, now=web.now(), today=web.today()
        )
    row = found.rows[0] if found.rows else None
    return page(
        request,
        "collection/legal.html",
        principal,
        confirm=row,  # None: in scope but not (or no longer) queued; the page says so
        as_of=found.as_of,
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


def _case_page(
    request: Request,
    principal: Principal,
    case_id: int,
    *,
    done: str | None = None,
    errors: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
    form: str | None = None,
) -> Response:
    web, t = state_of(request), translator(request)
    actor, now, today = principal.as_actor(), web.now(), web.today()
    with web.forbear.transaction() as conn:
        found = legal_desk.case_page(
            conn, actor, case_id, now=now, today=today, vault=web.forbear.vault
        )
        history = legal_desk.history(conn, actor, case_id, now=now, today=today)
    case = views.case_out(found.case, t)
    detail = legal_views.case_detail_out(found, t)
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
        status_code=422 if errors else 200,
        case=case,
        detail=detail,
        history=history,
        nexts=list(dict.fromkeys(nexts)),
        cost_kinds=[k.value for k in CostKind],
        documents=[]
        if current.is_final
        else [(file_name(case_id, s), TITLES_ZH[s], s) for s in SUFFIXES],
        done=done if done in ("opened", "advanced", "cost") else None,
        errors=errors or {},
        typed=typed or {},
        form=form,
    )


@router.get("/legal/cases/{case_id}")
def legal_case(
    request: Request,
    principal: Lawyer,
    case_id: CaseId,
    done: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    return _case_page(request, principal, case_id, done=done)


@router.post("/legal/cases")
def open_case(
    request: Request,
    principal: Lawyer,
    loan_id: Annotated[str, Form(max_length=12)],
    confirmed: Annotated[str, Form(max_length=3)] = "",
) -> Response:
    if not loan_id.strip():
        raise ValidationError("loan_id", "required")
    number = whole(loan_id, "loan_id")
    web = state_of(request)
    if confirmed != "yes":  # the confirm step first (a loan out of scope: 404, as below)
        with web.forbear.transaction() as conn:
            legal_desk.queued_entry(
                conn, principal.as_actor(), number, now=web.now(), today=web.today()
            )
        return RedirectResponse(f"/legal/queue/{number}/open", 303)
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
    proof_kind: Annotated[str, Form(max_length=10)] = "",
    tracking_number: Annotated[str, Form(max_length=40)] = "",
    receipt_ref: Annotated[str, Form(max_length=64)] = "",
    signed_on: Annotated[str, Form(max_length=10)] = "",
    evidence_ref: Annotated[str, Form(max_length=200)] = "",
    reason: Annotated[str, Form(max_length=200)] = "",
    notes: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    web, t = state_of(request), translator(request)
    typed = {
        "to": to,
        "court": court,
        "case_number": case_number,
        "proof_kind": proof_kind,
        "tracking_number": tracking_number,
        "receipt_ref": receipt_ref,
        "signed_on": signed_on,
        "reason": reason,
        "notes": notes,
    }
    kind = proof_kind.strip() or None
    reference = receipt_ref if kind == "receipt" else tracking_number
    try:
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
                proof_kind=kind if to == Stage.DEMAND_LETTER.value else None,
                proof_ref=reference.strip() or None,
                signed_on=form_date(signed_on, "signed_on") if kind == "receipt" else None,
                zone=web.forbear.settings.zone,
                vault=web.forbear.vault,
            )
    except (ValidationError, Conflict) as exc:
        field, words = legal_views.refusal_words(t, exc)
        return _case_page(
            request, principal, case_id, errors={field: words}, typed=typed, form="advance"
        )
    return RedirectResponse(f"/legal/cases/{case_id}?done=advanced", 303)


@router.post("/legal/cases/{case_id}/costs")
def add_cost(
    request: Request,
    principal: Lawyer,
    case_id: CaseId,
    kind: Annotated[str, Form(max_length=24)],
    amount: Annotated[str, Form(max_length=30)] = "",
    incurred_on: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    web, t = state_of(request), translator(request)
    typed = {"kind": kind, "amount": amount, "incurred_on": incurred_on}
    try:
        with web.forbear.transaction() as conn:
            legal_desk.add_cost(
                conn,
                principal.as_actor(),
                case_id,
                kind=kind,
                amount=amount,
                incurred_on=form_date(incurred_on, "incurred_on"),
                now=web.now(),
                today=web.today(),
            )
    except (ValidationError, Conflict) as exc:
        field, words = legal_views.refusal_words(t, exc)
        if field == "to":
            field = "kind"
        return _case_page(
            request, principal, case_id, errors={field: words}, typed=typed, form="cost"
        )
    return RedirectResponse(f"/legal/cases/{case_id}?done=cost#costs", 303)


@router.get("/legal/cases/{case_id}/documents/{name}")
def download(
    request: Request,
    principal: Lawyer,
    case_id: CaseId,
    name: Annotated[str, Path(max_length=80)],
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
