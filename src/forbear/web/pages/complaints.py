"""The compliance console (issue 7): the complaints queue with SLA clocks and escalation, a
complaint with its linked contacts and actions, blocked contacts by rule id with a
drill-down, the rule pack in force with its sources, the audit trail with verification,
template review with the content filter's findings, and the case library.

Permissions: compliance officers (``compliance.view``) work everything here; supervisors
(``plan.approve``) read the queue, a complaint, blocked contacts, the rules and the case
library, approve a further 30 days and write the case library; the audit trail needs
``audit.view``. Forms carry the CSRF token and post, redirect, get; the services refuse
bad input before writing anything.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Connection, func, select

from forbear.domain import complaints as domain
from forbear.domain.access import PiiField, can, mask_for
from forbear.domain.compliance.schema import Channel
from forbear.domain.errors import PermissionDenied, ValidationError
from forbear.services import complaints as svc
from forbear.services import contacts as contact_service
from forbear.services import lender as lender_service
from forbear.services import templates as template_service
from forbear.services import unmasking
from forbear.store import audit
from forbear.store.audit import AuditEvent
from forbear.store.complaints import SatisfactionResponse
from forbear.store.crypto import Contexts
from forbear.store.models import Borrower, Loan
from forbear.web import reads
from forbear.web.api import complaints as api
from forbear.web.deps import require_any, state_of
from forbear.web.pages.render import page
from forbear.web.permissions import MAX_ID
from forbear.web.sessions import Principal

router = APIRouter(prefix="/compliance")
Reader = Annotated[Principal, Depends(require_any(*api.READ))]
Worker = Annotated[Principal, Depends(require_any(*api.WORK))]
Auditor = Annotated[Principal, Depends(require_any("audit.view"))]
ComplaintId = Annotated[int, Path(ge=1, le=MAX_ID)]
ACTIONS = ("start", "extend", "approve", "resolve", "close")
AUDIT_PAGE = 50
SECTIONS = ("complaints", "blocked", "rules", "audit", "templates", "cases", "unmasking")
ALERT_DAYS = 7  # the unmask alerts look back this many days


def _int(value: str, field: str) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        raise ValidationError(field, "not a whole number") from None
    if not 1 <= number <= MAX_ID:
        raise ValidationError(field, f"between 1 and {MAX_ID}")
    return number


def _date(value: str | None, field: str) -> date | None:
    if value is None or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationError(field, "a date as YYYY-MM-DD") from None


def _console(request: Request, principal: Principal, template: str, **context: Any) -> Response:
    return page(
        request,
        template,
        principal,
        sections=[
            s
            for s in SECTIONS
            if (s != "audit" or can(principal.role, "audit.view"))
            and (s not in ("templates", "unmasking") or can(principal.role, "compliance.view"))
        ],
        **context,
    )


def _seen(conn: Connection, web: Any, principal: Principal) -> set[int] | None:
    """The loans the caller may see (None: the whole book), for lists naming accounts."""
    from forbear.web.scope import visible_loans

    return visible_loans(conn, principal, web.now(), reads.book_date(conn, web.today()))


def _loan_refs(conn: Connection, loan_ids: list[int]) -> dict[int, str]:
    if not loan_ids:
        return {}
    rows = conn.execute(select(Loan.id, Loan.external_ref).where(Loan.id.in_(loan_ids))).all()
    return {int(r[0]): str(r[1]) for r in rows}


# ------------------------------------------------------------------------ complaints


@router.get("")
def console(
    request: Request,
    principal: Reader,
    status: Annotated[api.Status | None, Query()] = None,
    open_only: Annotated[bool, Query()] = False,
) -> Response:
    """The complaints queue: overdue first, then due soon, each with its SLA clock."""
    web = state_of(request)
    with web.forbear.transaction() as conn:
        day, rows = api.queue_for(conn, web, principal, status=status, open_only=open_only)
        refs = _loan_refs(conn, [r["loan_id"] for r in rows if r["loan_id"] is not None])
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
    return _console(
        request,
        principal,
        "complaints/queue.html",
        section="complaints",
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
    principal: Worker,
    loan_id: Annotated[str, Form()],
    category: Annotated[str, Form()],
    description: Annotated[str, Form()],
    source: Annotated[str, Form()] = "regulator",
) -> Response:
    web = state_of(request)
    loan = _int(loan_id, "loan_id")
    if source not in ("agent", "regulator"):
        raise ValidationError("source", "agent or regulator")
    with web.forbear.transaction() as conn:
        borrower = api.in_scope(conn, web, principal, loan)
        complaint_id = svc.file_complaint(
            conn,
            web.forbear.vault,
            borrower_id=borrower,
            loan_id=loan,
            source=source,
            category=category,
            description=description,
            actor=principal.actor,
            now=web.now(),
        )
    return RedirectResponse(f"/compliance/complaints/{complaint_id}?done=file", status_code=303)


@router.get("/complaints/{complaint_id}")
def complaint(request: Request, principal: Reader, complaint_id: ComplaintId) -> Response:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        view = api.require_complaint(conn, web, principal, complaint_id)
        shown = api.complaint_out(view, principal)
        blob = conn.execute(
            select(Borrower.name_enc).where(Borrower.id == view.borrower_id)
        ).scalar_one_or_none()
        name = web.forbear.vault.decrypt_optional(blob, context=Contexts.BORROWER_NAME)
        refs = _loan_refs(conn, [view.loan_id] if view.loan_id is not None else [])
        survey = conn.execute(
            select(SatisfactionResponse.score).where(
                SatisfactionResponse.subject_type == "complaint",
                SatisfactionResponse.subject_id == complaint_id,
            )
        ).scalar_one_or_none()
    status = domain.ComplaintStatus(view.status)
    actions = [
        a
        for a in ACTIONS
        if _allowed(status, a) and (can(principal.role, "compliance.view") or a == "approve")
    ]
    done = request.query_params.get("done", "")
    return _console(
        request,
        principal,
        "complaints/detail.html",
        section="complaints",
        c=shown,
        borrower_name=None if name is None else mask_for(principal.role, PiiField.NAME, name),
        loan_ref=refs.get(view.loan_id) if view.loan_id is not None else None,
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
    value = _int(score, "score")
    if value > 5:
        raise ValidationError("score", "a whole number from 1 to 5")
    with web.forbear.transaction() as conn:
        view = api.require_complaint(conn, web, principal, complaint_id)
        svc.record_satisfaction(
            conn,
            borrower_id=view.borrower_id,
            subject_type="complaint",
            subject_id=complaint_id,
            score=value,
            actor=principal.actor,
            now=web.now(),
            loan_id=view.loan_id,
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
    if action != "approve" and not can(principal.role, "compliance.view"):
        raise PermissionDenied(principal.role.value, "compliance.view")
    values = {"reason": reason, "resolution": resolution, "root_cause": root_cause}
    needed = {"extend": ("reason",), "resolve": ("resolution", "root_cause")}.get(action, ())
    api.apply_action(request, principal, complaint_id, action, **{k: values[k] for k in needed})
    return RedirectResponse(f"/compliance/complaints/{complaint_id}?done={action}", status_code=303)


# ------------------------------------------------------------------------ blocked contacts


@router.get("/blocked")
def blocked(
    request: Request,
    principal: Reader,
    start: Annotated[str | None, Query(max_length=10)] = None,
    end: Annotated[str | None, Query(max_length=10)] = None,
    rule: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """Blocked contacts by rule id (online and in the daily run), with a drill-down."""
    web = state_of(request)
    with web.forbear.transaction() as conn:
        last = _date(end, "end") or reads.book_date(conn, web.today()) or web.today()
        first = _date(start, "start") or last - timedelta(days=6)
        first, last = api.window(conn, web, first, last)
        by_rule = svc.blocked_by_rule(conn, first, last).to_dicts()
        items: list[dict[str, Any]] = []
        if rule:
            items = svc.blocked_contacts(conn, rule_id=rule, start=first, end=last).to_dicts()
            seen = _seen(conn, web, principal)  # the drill-down names accounts: scope it
            items = [i for i in items if seen is None or int(i["loan_id"]) in seen]
        refs = _loan_refs(conn, sorted({int(i["loan_id"]) for i in items}))
        rules = contact_service.lender_rules(web.forbear.settings.data_dir, conn)
    texts = {r.id: r for r in rules.rules}
    return _console(
        request,
        principal,
        "complaints/blocked.html",
        section="blocked",
        by_rule=by_rule,
        items=items,
        refs=refs,
        rule=rule,
        texts=texts,
        start=first,
        end=last,
    )


# ------------------------------------------------------------------------ rules in force


@router.get("/rules")
def rules(request: Request, principal: Reader) -> Response:
    """The rule pack in force: each rule with its effective parameters and its source."""
    web = state_of(request)
    with web.forbear.transaction() as conn:
        compiled = contact_service.lender_rules(web.forbear.settings.data_dir, conn)
        info = lender_service.current(conn)
    return _console(
        request,
        principal,
        "complaints/rules.html",
        section="rules",
        compiled=compiled,
        info=info,
        params=lambda p: json.dumps(p, ensure_ascii=False, sort_keys=True, default=str),
    )


# ------------------------------------------------------------------------ audit trail


@router.get("/audit")
def audit_trail(
    request: Request,
    principal: Auditor,
    page_no: Annotated[int, Query(alias="page", ge=1, le=1_000_000)] = 1,
    action: Annotated[str | None, Query(max_length=64)] = None,
    subject_type: Annotated[str | None, Query(max_length=64)] = None,
    verify: Annotated[bool, Query()] = False,
) -> Response:
    """The audit trail, newest first, paginated; ``verify`` checks the whole hash chain."""
    web = state_of(request)
    t = AuditEvent
    stmt = select(t.seq, t.at, t.actor, t.action, t.subject_type, t.subject_id, t.payload)
    count = select(func.count()).select_from(t)
    if action:
        stmt, count = stmt.where(t.action == action), count.where(t.action == action)
    if subject_type:
        stmt = stmt.where(t.subject_type == subject_type)
        count = count.where(t.subject_type == subject_type)
    with web.forbear.transaction() as conn:
        total = conn.execute(count).scalar_one()
        rows = conn.execute(
            stmt.order_by(t.seq.desc()).limit(AUDIT_PAGE).offset((page_no - 1) * AUDIT_PAGE)
        ).all()
        result = audit.verify(conn) if verify else None
    pages = max(1, -(-int(total) // AUDIT_PAGE))
    return _console(
        request,
        principal,
        "complaints/audit.html",
        section="audit",
        rows=rows,
        total=total,
        page_no=page_no,
        pages=pages,
        action=action or "",
        subject_type=subject_type or "",
        result=result,
        zone=web.forbear.settings.zone,
    )


# ------------------------------------------------------------------------ template review


def _review(conn: Connection) -> list[dict[str, Any]]:
    reviewed: list[dict[str, Any]] = []
    for info in template_service.list_templates(conn):
        findings = template_service.check_body(
            info.body, channel=info.channel, audience=info.audience, lang=info.lang
        )
        reviewed.append({"info": info, "findings": findings})
    reviewed.sort(key=lambda r: (not r["findings"], r["info"].code, -r["info"].version))
    return reviewed


@router.get("/templates")
def templates(request: Request, principal: Worker) -> Response:
    """Every stored template version with the content filter's findings (flagged first)."""
    web = state_of(request)
    with web.forbear.transaction() as conn:
        reviewed = _review(conn)
    return _console(
        request,
        principal,
        "complaints/templates.html",
        section="templates",
        reviewed=reviewed,
        draft=None,
        channels=[c.value for c in Channel],
    )


@router.post("/templates/check")
def check_draft(
    request: Request,
    principal: Worker,
    body: Annotated[str, Form(max_length=5000)],
    channel: Annotated[str, Form()] = "sms",
    audience: Annotated[str, Form()] = "debtor",
    lang: Annotated[str, Form()] = "zh",
) -> Response:
    """Check a draft text with the content filter; nothing is stored."""
    if not body.strip():
        raise ValidationError("body", "must not be empty")
    findings = template_service.check_body(body, channel=channel, audience=audience, lang=lang)
    web = state_of(request)
    with web.forbear.transaction() as conn:
        reviewed = _review(conn)
    return _console(
        request,
        principal,
        "complaints/templates.html",
        section="templates",
        reviewed=reviewed,
        draft={"body": body, "channel": channel, "audience": audience, "lang": lang},
        findings=findings,
        channels=[c.value for c in Channel],
    )


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
        seen = _seen(conn, web, principal)
        found = [r for r in found if seen is None or int(r["loan_id"]) in seen]
        refs = _loan_refs(conn, [int(r["loan_id"]) for r in found])
    done = request.query_params.get("added", "")
    return _console(
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
    loan = _int(loan_id, "loan_id")
    with web.forbear.transaction() as conn:
        api.in_scope(conn, web, principal, loan)
        case_id = svc.add_case(
            conn,
            web.forbear.vault,
            loan_id=loan,
            outcome=outcome,
            category=category,
            lesson=lesson,
            actor=principal.actor,
            now=web.now(),
        )
    return RedirectResponse(f"/compliance/cases?added={case_id}", status_code=303)


# ------------------------------------------------------------------------ unmask alerts


@router.get("/unmasking")
def unmask_alerts(request: Request, principal: Worker) -> Response:
    """Staff refused by the unmask throttle in the last :data:`ALERT_DAYS` days: who, when,
    how often, which limit (no borrower data; :mod:`forbear.services.unmasking`)."""
    web = state_of(request)
    with web.forbear.transaction() as conn:
        found = unmasking.alerts(conn, web.now() - timedelta(days=ALERT_DAYS))
    return _console(
        request,
        principal,
        "complaints/unmasking.html",
        section="unmasking",
        alerts=found,
        days=ALERT_DAYS,
        zone=web.forbear.settings.zone,
    )
