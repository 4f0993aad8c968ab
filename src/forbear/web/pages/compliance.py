"""The compliance console (issue 7), its other sections: blocked contacts by rule id with a
drill-down, the rule pack in force with its sources, the audit trail with verification,
template review with the content filter's findings, and staff refused by the unmask
throttle. The complaints are :mod:`.complaints`; what they share, :mod:`.console`.

Permissions: compliance officers (``compliance.view``) see everything here; supervisors
(``plan.approve``) the blocked contacts and the rules; the audit trail needs
``audit.view``.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from sqlalchemy import Connection

from forbear.domain.compliance.schema import Channel
from forbear.domain.errors import ValidationError
from forbear.services import audit_trail as trail_service
from forbear.services import complaints as svc
from forbear.services import contacts as contact_service
from forbear.services import lender as lender_service
from forbear.services import templates as template_service
from forbear.services import unmasking
from forbear.services.complaints import desk
from forbear.services.days import book_date
from forbear.services.scope import visible_loans
from forbear.web.deps import state_of
from forbear.web.pages.console import ALERT_DAYS, Auditor, Reader, Worker, form_date, render

router = APIRouter(prefix="/compliance")


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
        last = form_date(end, "end") or book_date(conn, web.today()) or web.today()
        first = form_date(start, "start") or last - timedelta(days=6)
        first, last = desk.report_window(conn, web.now(), first, last)
        by_rule = svc.blocked_by_rule(conn, first, last).to_dicts()
        items: list[dict[str, Any]] = []
        if rule:
            items = svc.blocked_contacts(conn, rule_id=rule, start=first, end=last).to_dicts()
            # the drill-down names accounts: scope it
            seen = visible_loans(conn, principal.as_actor(), web.now(), web.today())
            items = [i for i in items if seen is None or int(i["loan_id"]) in seen]
        refs = desk.loan_refs(conn, sorted({int(i["loan_id"]) for i in items}))
        rules = contact_service.lender_rules(web.forbear.settings.data_dir, conn)
    texts = {r.id: r for r in rules.rules}
    return render(
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
    return render(
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
    with web.forbear.transaction() as conn:
        trail = trail_service.page(
            conn,
            principal.as_actor(),
            page_no=page_no,
            action=action,
            subject_type=subject_type,
            verify=verify,
        )
    return render(
        request,
        principal,
        "complaints/audit.html",
        section="audit",
        rows=trail.rows,
        total=trail.total,
        page_no=page_no,
        pages=trail.pages,
        action=action or "",
        subject_type=subject_type or "",
        result=trail.verified,
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
    return render(
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
    return render(
        request,
        principal,
        "complaints/templates.html",
        section="templates",
        reviewed=reviewed,
        draft={"body": body, "channel": channel, "audience": audience, "lang": lang},
        findings=findings,
        channels=[c.value for c in Channel],
    )


# ------------------------------------------------------------------------ unmask alerts


@router.get("/unmasking")
def unmask_alerts(request: Request, principal: Worker) -> Response:
    """Staff refused by the unmask throttle in the last :data:`ALERT_DAYS` days: who, when,
    how often, which limit (no borrower data; :mod:`forbear.services.unmasking`)."""
    web = state_of(request)
    with web.forbear.transaction() as conn:
        found = unmasking.alerts(conn, web.now() - timedelta(days=ALERT_DAYS))
    return render(
        request,
        principal,
        "complaints/unmasking.html",
        section="unmasking",
        alerts=found,
        days=ALERT_DAYS,
        zone=web.forbear.settings.zone,
    )
