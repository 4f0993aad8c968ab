"""The compliance console (issue 7), its complaints: the queue with SLA clocks and
escalation, filing, a complaint with its linked contacts and actions, the survey after
it, and the case library. The other sections are :mod:`.compliance`; what they share,
:mod:`.console`.

Permissions: compliance officers (``compliance.view``) work everything here; supervisors
(``plan.approve``) read the queue, a complaint and the case library, approve a further 30
days and write the case library. Each route calls one use case of
:mod:`forbear.services.complaints.desk`, which checks permissions and scope itself. Forms
carry the CSRF token and post, redirect, get; the services refuse bad input before
writing anything.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Connection

from forbear.domain import complaints as domain
from forbear.domain.access import can
from forbear.domain.errors import ForbearError, NotFound, ValidationError
from forbear.services import complaints as svc
from forbear.services import unmasking
from forbear.services.complaints import desk
from forbear.services.scope import visible_loans
from forbear.web.complaint_views import Status, complaint_out
from forbear.web.deps import require_any, state_of
from forbear.web.i18n import Translator, request_lang
from forbear.web.pages.account_parts import account_page, account_section
from forbear.web.pages.console import ALERT_DAYS, Reader, Worker, render, whole
from forbear.web.permissions import MAX_ID
from forbear.web.sessions import Principal

router = APIRouter(prefix="/compliance")
ComplaintId = Annotated[int, Path(ge=1, le=MAX_ID)]
ACTIONS = desk.ACTIONS
Filer = Annotated[Principal, Depends(require_any(*desk.FILE))]


# ------------------------------------------------------------------------ complaints


@router.get("")
def console(
    request: Request,
    principal: Reader,
    status: Annotated[Status | None, Query()] = None,
    open_only: Annotated[bool, Query()] = False,
) -> Response:
    """The complaints queue: overdue first, then due soon, each with its SLA clock."""
    return _console(request, principal, status, open_only)


def _console(
    request: Request,
    principal: Principal,
    status: str | None,
    open_only: bool,
    *,
    file_error: str | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        day, rows = desk.queue(
            conn,
            principal.as_actor(),
            now=web.now(),
            today=web.today(),
            status=status,
            open_only=open_only,
        )
        refs = desk.loan_refs(conn, [r["loan_id"] for r in rows if r["loan_id"] is not None])
        first = day - timedelta(days=29)
        satisfaction = svc.satisfaction_summary(conn, first, day).to_dicts()
        rates = svc.complaint_rates(conn, first, day).row(0, named=True)
        throttled = (
            len(unmasking.alerts(conn, web.now() - timedelta(days=ALERT_DAYS)))
            if can(principal.role, "compliance.view")
            else 0
        )
    open_rows = [r for r in rows if r["status"] in {s.value for s in domain.OPEN_STATUSES}]
    counts = {
        "open": len(open_rows),
        "overdue": sum(r["urgency"] == "overdue" for r in open_rows),
        "due_soon": sum(r["urgency"] == "due_soon" for r in open_rows),
    }
    return render(
        request,
        principal,
        "complaints/queue.html",
        section="complaints",
        status_code=status_code,
        file_error=file_error,
        values=values or {},
        rows=rows,
        refs=refs,
        counts=counts,
        day=day,
        chosen=status,
        open_only=open_only,
        statuses=[s.value for s in domain.ComplaintStatus],
        categories=[c.value for c in domain.ComplaintCategory],
        satisfaction=satisfaction,
        rates=rates,
        window=(first, day),
        may_file=can(principal.role, "compliance.view"),
        unmask_alerts=throttled,
        alert_days=ALERT_DAYS,
    )


@router.post("/complaints")
def file_complaint(
    request: Request,
    principal: Filer,
    category: Annotated[str, Form(max_length=32)],
    description: Annotated[str, Form(max_length=domain.MAX_DESCRIPTION)],
    loan_ref: Annotated[str, Form(max_length=64)] = "",
    source: Annotated[str, Form(max_length=16)] = "regulator",
    contact_attempts: Annotated[str, Form(max_length=400)] = "",
    contact_attempt_ids: Annotated[list[str] | None, Form()] = None,
    from_account: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    """File a complaint named by the loan reference people see, with the contacts it is
    about: from the compliance console (a referral or one an agent took) or from the
    account page (an agent logs a complaint voiced on a call). A refusal shows the form
    again with the reason beside it and everything typed kept."""
    web = state_of(request)
    t = Translator(request_lang(request))
    values = {
        "loan_ref": loan_ref,
        "source": source,
        "category": category,
        "description": description,
        "contact_attempts": contact_attempts,
    }
    account = int(from_account) if from_account.isdigit() and int(from_account) <= MAX_ID else None
    chosen = list(contact_attempt_ids or [])
    try:
        if source not in ("agent", "regulator"):
            raise ValidationError("source", "agent or regulator")
        attempts = _attempt_numbers([*chosen, *contact_attempts.replace("，", ",").split(",")])
        with web.forbear.transaction() as conn:
            view = desk.file(
                conn,
                web.forbear.vault,
                principal.as_actor(),
                loan_id=account,
                loan_ref=None if account is not None else loan_ref,
                source="agent" if account is not None else source,
                category=category,
                description=description,
                contact_attempt_ids=attempts,
                now=web.now(),
                today=web.today(),
            )
    except (ValidationError, NotFound) as exc:
        words = _filing_error(t, exc)
        if account is not None:
            return account_page(
                request,
                principal,
                account,
                status_code=422 if isinstance(exc, ValidationError) else 404,
                extra={
                    "complaint_error": words,
                    "complaint_values": {**values, "chosen": chosen},
                },
            )
        return _console(
            request,
            principal,
            None,
            False,
            file_error=words,
            values=values,
            status_code=422 if isinstance(exc, ValidationError) else 404,
        )
    if account is not None:
        return RedirectResponse(
            f"/accounts/{account}?complaint_filed={view.id}#complaint-file", status_code=303
        )
    return RedirectResponse(f"/compliance/complaints/{view.id}?done=file", status_code=303)


def _attempt_numbers(raw: list[str]) -> list[int]:
    """Contact numbers as typed ("#12, 13") or ticked; anything else is refused."""
    out: list[int] = []
    for item in raw:
        text = item.strip().lstrip("#＃").strip()
        if not text:
            continue
        if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 2**62:
            raise ValidationError("contact_attempt_ids", "contact numbers, e.g. 12, 13")
        out.append(int(text))
    return sorted(set(out))


FILING_FIELDS = {
    "loan_ref": "complaints.err.loan_ref",
    "contact_attempt_ids": "complaints.err.attempts",
    "description": "complaints.err.description",
    "category": "complaints.err.category",
    "source": "complaints.err.source",
}


def _filing_error(t: Translator, exc: ForbearError) -> str:
    if isinstance(exc, NotFound):
        if exc.kind == "loan":
            return t("complaints.err.no_loan", ref=exc.key)
        return t("complaints.err.no_attempt", id=exc.key)
    assert isinstance(exc, ValidationError)
    return t(FILING_FIELDS.get(exc.field, "complaints.err.invalid"))


# ------------------------------------------------------------------------ account page


@account_section
def account_complaint_slot(
    request: Request, conn: Connection, principal: Principal, loan_id: int, as_of: date | None
) -> dict[str, Any]:
    """The account page's "log a complaint voiced on a call" form (issue 15, item 5): the
    latest contacts of the loan to link, for those who may file."""
    if not any(can(principal.role, p) for p in desk.FILE):
        return {}
    web = state_of(request)
    attempts = desk.recent_attempts(
        conn, principal.as_actor(), loan_id, now=web.now(), today=web.today()
    )
    filed = request.query_params.get("complaint_filed", "")
    return {
        "complaint_slot": {
            "loan_id": loan_id,
            "attempts": attempts,
            "categories": [c.value for c in domain.ComplaintCategory],
            "filed": int(filed) if filed.isdigit() and int(filed) <= MAX_ID else None,
        }
    }


@router.get("/complaints/{complaint_id}")
def complaint(request: Request, principal: Reader, complaint_id: ComplaintId) -> Response:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        found = desk.detail(
            conn,
            web.forbear.vault,
            principal.as_actor(),
            complaint_id,
            now=web.now(),
            today=web.today(),
        )
    view, survey = found.view, found.survey_score
    shown = complaint_out(view, principal)
    status = domain.ComplaintStatus(view.status)
    actions = [
        a
        for a in ACTIONS
        if _allowed(status, a) and (can(principal.role, "compliance.view") or a == "approve")
    ]
    done = request.query_params.get("done", "")
    return render(
        request,
        principal,
        "complaints/detail.html",
        section="complaints",
        c=shown,
        borrower_name=found.borrower_name,
        loan_ref=found.loan_ref,
        actions=actions,
        root_causes=[r.value for r in domain.RootCause],
        survey=survey,
        done=done if done in (*ACTIONS, "file", "survey") else None,
        may_survey=can(principal.role, "compliance.view")
        and survey is None
        and status in (domain.ComplaintStatus.RESOLVED, domain.ComplaintStatus.CLOSED),
    )


def _allowed(status: domain.ComplaintStatus, action: str) -> bool:
    target = {
        "start": domain.ComplaintStatus.IN_PROGRESS,
        "extend": domain.ComplaintStatus.EXTENDED,
        "approve": domain.ComplaintStatus.EXTENDED_APPROVED,
        "resolve": domain.ComplaintStatus.RESOLVED,
        "close": domain.ComplaintStatus.CLOSED,
    }[action]
    return domain.can_move(status, target)


@router.post("/complaints/{complaint_id}/survey")
def survey(
    request: Request,
    principal: Worker,
    complaint_id: ComplaintId,
    score: Annotated[str, Form()],
) -> Response:
    """Record the borrower's answer to the one-question survey after the resolution."""
    web = state_of(request)
    value = whole(score, "score")
    if value > 5:
        raise ValidationError("score", "a whole number from 1 to 5")
    with web.forbear.transaction() as conn:
        desk.complaint_survey(
            conn,
            web.forbear.vault,
            principal.as_actor(),
            complaint_id,
            score=value,
            now=web.now(),
            today=web.today(),
        )
    return RedirectResponse(f"/compliance/complaints/{complaint_id}?done=survey", status_code=303)


@router.post("/complaints/{complaint_id}/{action}")
def act(
    request: Request,
    principal: Reader,
    complaint_id: ComplaintId,
    action: Annotated[str, Path(pattern="^(start|extend|approve|resolve|close)$")],
    reason: Annotated[str, Form()] = "",
    resolution: Annotated[str, Form()] = "",
    root_cause: Annotated[str, Form()] = "",
) -> Response:
    web = state_of(request)
    values = {"reason": reason, "resolution": resolution, "root_cause": root_cause}
    needed = {"extend": ("reason",), "resolve": ("resolution", "root_cause")}.get(action, ())
    with web.forbear.transaction() as conn:
        desk.act(
            conn,
            web.forbear.vault,
            principal.as_actor(),
            complaint_id,
            action,
            now=web.now(),
            today=web.today(),
            **{k: values[k] for k in needed},
        )
    return RedirectResponse(f"/compliance/complaints/{complaint_id}?done={action}", status_code=303)


# ------------------------------------------------------------------------ case library


@router.get("/cases")
def cases(
    request: Request,
    principal: Reader,
    text: Annotated[str | None, Query(max_length=200)] = None,
    category: Annotated[str | None, Query(max_length=32)] = None,
    outcome: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    web = state_of(request)
    chosen = outcome if outcome in ("success", "failure") else None
    with web.forbear.transaction() as conn:
        found = svc.search_cases(
            conn, web.forbear.vault, text=text, category=category, outcome=chosen
        ).to_dicts()
        seen = visible_loans(conn, principal.as_actor(), web.now(), web.today())
        found = [r for r in found if seen is None or int(r["loan_id"]) in seen]
        refs = desk.loan_refs(conn, [int(r["loan_id"]) for r in found])
    done = request.query_params.get("added", "")
    return render(
        request,
        principal,
        "complaints/cases.html",
        section="cases",
        found=found,
        refs=refs,
        text=text or "",
        category=category or "",
        outcome=chosen or "",
        added=int(done) if done.isdigit() and int(done) <= MAX_ID else None,
    )


@router.post("/cases")
def add_case(
    request: Request,
    principal: Reader,
    loan_id: Annotated[str, Form()],
    outcome: Annotated[str, Form()],
    category: Annotated[str, Form()],
    lesson: Annotated[str, Form()],
) -> Response:
    web = state_of(request)
    loan = whole(loan_id, "loan_id")
    with web.forbear.transaction() as conn:
        row = desk.add_lesson(
            conn,
            web.forbear.vault,
            principal.as_actor(),
            loan_id=loan,
            outcome=outcome,
            category=category,
            lesson=lesson,
            now=web.now(),
            today=web.today(),
        )
    return RedirectResponse(f"/compliance/cases?added={row['case_id']}", status_code=303)
