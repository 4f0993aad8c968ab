"""Collection work on the pages: promises, plans and scripts on the account page, and the
legal console (role legal).

The account page (:mod:`forbear.web.pages.accounts`) asks :func:`account_extras` for the
promises, plans, script lines and plan limits of the account it shows. Forms post here
and redirect back (post, redirect, get), except the plan quote, which renders the account
page with the computed schedule and a save button (nothing stored until saved). Every
form carries the CSRF token; the services refuse bad input before writing anything.
The legal console shows only accounts in the caller's scope, and a case out of scope
answers 404 (:func:`forbear.web.api.collection.case_in_scope`).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Connection

from forbear.domain.access import can
from forbear.domain.errors import Conflict, NotFound, ValidationError
from forbear.domain.legal.lifecycle import Stage
from forbear.domain.money import parse_yuan
from forbear.services import legal as legal_service
from forbear.services import plans as plan_service
from forbear.web.api import collection as api
from forbear.web.deps import WebState, require_any, state_of, translator
from forbear.web.pages.account_parts import account_section
from forbear.web.pages.render import page
from forbear.web.permissions import CONTACT, MAX_ID
from forbear.web.sessions import Principal

router = APIRouter()
Contactor = Annotated[Principal, Depends(require_any(*CONTACT))]
Offerer = Annotated[Principal, Depends(require_any("plan.offer"))]
Lawyer = Annotated[Principal, Depends(require_any("legal.manage"))]
LoanId = Annotated[int, Path(ge=1, le=MAX_ID)]
PlanId = Annotated[int, Path(ge=1, le=MAX_ID)]
CaseId = Annotated[int, Path(ge=1, le=MAX_ID)]
PLAN_TYPES = ("deferral", "restructure", "settlement", "hardship")
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
NOTICES = ("promise_saved", "promise_cancelled", "plan_saved", "plan_accepted", "plan_cancelled")


def _int(value: str, field: str, *, low: int = 0, high: int = MAX_ID) -> int | None:
    if not value.strip():
        return None
    try:
        number = int(value.strip())
    except ValueError:
        raise ValidationError(field, "not a whole number") from None
    if not low <= number <= high:
        raise ValidationError(field, f"between {low} and {high}")
    return number


def yuan_to_fen(text: str, field: str, *, required: bool = True) -> int | None:
    """``"1,234.5"`` yuan as integer fen (:func:`forbear.domain.money.parse_yuan`, the one
    parser of yuan text); positive, not absurd; empty is None unless ``required``."""
    if not text.strip():
        if required:
            raise ValidationError(field, "an amount in yuan is required")
        return None
    fen = parse_yuan(text, field=field)
    if fen < (1 if required else 0) or fen > api.MAX_FEN:
        raise ValidationError(field, "out of range")
    return fen


def _date(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(field, "a date as YYYY-MM-DD") from None


# ------------------------------------------------------------------------ account page


@account_section
def account_extras(
    request: Request, conn: Connection, principal: Principal, loan_id: int, as_of: date | None
) -> dict[str, Any]:
    """What the account page shows of promises, plans and scripts (called inside its
    transaction, after the scope check)."""
    web = state_of(request)
    t = translator(request)
    day = as_of or web.today()
    limits = None
    if can(principal.role, "plan.offer"):
        try:
            limits = api.role_limits(conn, principal, loan_id, day)
        except (NotFound, ValidationError):
            limits = None
    notices: dict[str, int] = {}
    for name in NOTICES:
        raw = request.query_params.get(name, "")
        if raw.isdigit() and 1 <= int(raw) <= MAX_ID:
            notices[name] = int(raw)
    attempt = request.query_params.get("promise_attempt", "")
    plans = [api.plan_out(p) for p in reversed(plan_service.list_plans(conn, loan_id=loan_id))]
    return {
        "promises": api.promise_rows(conn, loan_id),
        "plans": plans,
        "plan_lines": {
            p.plan_id: [api.line_out(ln) for ln in plan_service.plan_lines(conn, p.plan_id)]
            for p in plans[:10]
        },
        "scripts": api.scripts_for(conn, loan_id, day, web.now(), t.lang),
        "limits": limits,
        "plan_types": PLAN_TYPES,
        "notices": notices,
        "promise_attempt": int(attempt) if attempt.isdigit() and int(attempt) <= MAX_ID else None,
        "promise_default_date": day.isoformat(),
    }


def _back(loan_id: int, query: str, anchor: str) -> Response:
    return RedirectResponse(f"/accounts/{loan_id}?{query}#{anchor}", 303)


@router.post("/accounts/{loan_id}/promises")
def take_promise(
    request: Request,
    principal: Contactor,
    loan_id: LoanId,
    amount_yuan: Annotated[str, Form(max_length=24)] = "",
    promised_on: Annotated[str, Form(max_length=10)] = "",
    contact_attempt_id: Annotated[str, Form(max_length=12)] = "",
    replace: Annotated[str, Form(max_length=4)] = "",
) -> Response:
    web = state_of(request)
    try:
        amount = yuan_to_fen(amount_yuan, "amount_yuan")
        assert amount is not None
        day = _date(promised_on, "promised_on")
        attempt = _int(contact_attempt_id, "contact_attempt_id", low=1)
        with web.forbear.transaction() as conn:
            promise_id = api.take_promise(
                conn,
                web,
                principal,
                loan_id,
                amount=amount,
                promised_on=day,
                contact_attempt_id=attempt,
                replace=replace == "1",
            )
    except (ValidationError, Conflict) as exc:
        from forbear.web.pages.account_parts import account_page as _account_page

        message, status = _refusal(request, exc)
        form = {"amount_yuan": amount_yuan, "promised_on": promised_on}
        return _account_page(
            request,
            principal,
            loan_id,
            status_code=status,
            extra={"promise_error": message, "promise_form": form},
        )
    return _back(loan_id, f"promise_saved={promise_id}", "promises")


def _refusal(request: Request, exc: ValidationError | Conflict) -> tuple[str, int]:
    t = translator(request)
    if isinstance(exc, ValidationError):
        return t("error.validation", field=exc.field, reason=exc.reason), 422
    return t("error.conflict", reason=exc.message), 409


@router.post("/promises/{promise_id}/cancel")
def cancel_promise(
    request: Request,
    principal: Contactor,
    promise_id: Annotated[int, Path(ge=1, le=MAX_ID)],
) -> Response:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        loan_id = api.withdraw_promise(conn, web, principal, promise_id, None)
    return _back(loan_id, f"promise_cancelled={promise_id}", "promises")


def _plan_in(form: dict[str, str]) -> api.PlanIn:
    plan_type = form.get("plan_type", "")
    if plan_type not in PLAN_TYPES:
        raise ValidationError("plan_type", f"one of {', '.join(PLAN_TYPES)}")
    numbers = {
        name: _int(form.get(name, ""), name, high=high) or 0
        for name, high in (
            ("months", 24),
            ("instalments", 60),
            ("waive_penalty_pct", 100),
            ("discount_pct", 99),
            ("payment_share_pct", 99),
        )
    }
    return api.PlanIn(
        plan_type=plan_type,
        income_fen=yuan_to_fen(form.get("income_yuan", ""), "income_yuan", required=False),
        expenses_fen=yuan_to_fen(form.get("expenses_yuan", ""), "expenses_yuan", required=False),
        **numbers,
    )


PlanField = Annotated[str, Form(max_length=24)]


def _form(**values: str) -> dict[str, str]:
    return {k: v for k, v in values.items()}


def plan_form(
    plan_type: PlanField,
    months: PlanField = "",
    instalments: PlanField = "",
    waive_penalty_pct: PlanField = "",
    discount_pct: PlanField = "",
    payment_share_pct: PlanField = "",
    income_yuan: PlanField = "",
    expenses_yuan: PlanField = "",
) -> dict[str, str]:
    """The plan form's fields as typed (kept to show them again on a refusal)."""
    return _form(
        plan_type=plan_type,
        months=months,
        instalments=instalments,
        waive_penalty_pct=waive_penalty_pct,
        discount_pct=discount_pct,
        payment_share_pct=payment_share_pct,
        income_yuan=income_yuan,
        expenses_yuan=expenses_yuan,
    )


PlanForm = Annotated[dict[str, str], Depends(plan_form)]


def _offer(
    request: Request, principal: Principal, loan_id: int, form: dict[str, str], *, save: bool
) -> Any:
    """The offer computed (and saved with ``save``), or the account page with the refusal."""
    web, t = state_of(request), translator(request)
    try:
        body = _plan_in(form)
        with web.forbear.transaction() as conn:
            return api.make_offer(conn, web, principal, loan_id, body, t, save=save)
    except (ValidationError, Conflict) as exc:
        return _plan_refused(request, principal, loan_id, form, exc)


@router.post("/accounts/{loan_id}/plans/quote")
def quote_plan(request: Request, principal: Offerer, loan_id: LoanId, form: PlanForm) -> Response:
    from forbear.web.pages.account_parts import account_page as _account_page

    result = _offer(request, principal, loan_id, form, save=False)
    if isinstance(result, Response):
        return result
    quote = api.quote_out(result, translator(request))
    return _account_page(request, principal, loan_id, extra={"quote": quote, "plan_form": form})


def _plan_refused(
    request: Request,
    principal: Principal,
    loan_id: int,
    form: dict[str, str],
    exc: ValidationError | Conflict,
) -> Response:
    """The account page again, the plan form keeping its values, with the refusal."""
    from forbear.web.pages.account_parts import account_page as _account_page

    message, status = _refusal(request, exc)
    return _account_page(
        request,
        principal,
        loan_id,
        status_code=status,
        extra={"plan_form": form, "plan_error": message},
    )


@router.post("/accounts/{loan_id}/plans")
def save_plan(request: Request, principal: Offerer, loan_id: LoanId, form: PlanForm) -> Response:
    result = _offer(request, principal, loan_id, form, save=True)
    if isinstance(result, Response):
        return result
    return _back(loan_id, f"plan_saved={result.plan_id}", "plans")


@router.post("/plans/{plan_id}/accept")
def accept_plan(request: Request, principal: Offerer, plan_id: PlanId) -> Response:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        found, day = api.plan_in_scope(conn, web, principal, plan_id)
        plan_service.accept_plan(conn, plan_id, as_of=day, actor=principal.actor)
    return _back(found.loan_id, f"plan_accepted={plan_id}", "plans")


@router.post("/plans/{plan_id}/cancel")
def cancel_plan(request: Request, principal: Offerer, plan_id: PlanId) -> Response:
    from forbear.domain.errors import PermissionDenied
    from forbear.domain.plans import PlanStatus

    web = state_of(request)
    with web.forbear.transaction() as conn:
        found, day = api.plan_in_scope(conn, web, principal, plan_id)
        if found.status is not PlanStatus.OFFERED and not can(principal.role, "plan.approve"):
            raise PermissionDenied(principal.role.value, "plan.approve")
        plan_service.cancel_plan(conn, plan_id, as_of=day, actor=principal.actor)
    return _back(found.loan_id, f"plan_cancelled={plan_id}", "plans")


# ------------------------------------------------------------------------ legal console


def _legal_common(conn: Connection, web: WebState) -> date:
    return api.book_date(conn, web)


@router.get("/legal")
def legal_console(request: Request, principal: Lawyer) -> Response:
    web, t = state_of(request), translator(request)
    with web.forbear.transaction() as conn:
        day = _legal_common(conn, web)
        seen = api.loans_seen(conn, web, principal)
        queue = [i for i in legal_service.queue(conn, day) if seen is None or i.loan_id in seen]
        cases = api.case_list(conn, t, None, vault=web.forbear.vault, seen=seen)
        watch = api.watch(conn, day, None, seen)
    return page(
        request,
        "collection/legal.html",
        principal,
        as_of=day,
        queue=queue,
        counts=cases.counts,
        watch=watch,
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
        cases = api.case_list(
            conn, t, chosen, vault=web.forbear.vault, seen=api.loans_seen(conn, web, principal)
        )
    return page(
        request,
        "collection/legal_cases.html",
        principal,
        cases=cases,
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
    from sqlalchemy import select

    from forbear.domain.legal.lifecycle import ORDER
    from forbear.store.legal import LegalCaseEvent as Event

    web, t = state_of(request), translator(request)
    with web.forbear.transaction() as conn:
        api.case_in_scope(conn, web, principal, case_id)
        case = api.case_out(legal_service.get_case(conn, case_id, vault=web.forbear.vault), t)
        history = conn.execute(
            select(Event.stage_on, Event.from_stage, Event.stage, Event.court, Event.created_by)
            .where(Event.case_id == case_id)
            .order_by(Event.id)
        ).all()
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
    number = _int(loan_id, "loan_id", low=1)
    if number is None:
        raise ValidationError("loan_id", "required")
    web = state_of(request)
    with web.forbear.transaction() as conn:
        case = legal_service.open_case(
            conn,
            number,
            role=principal.role.value,
            actor=principal.actor,
            on=api.in_scope(conn, web, principal, number),
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
        legal_service.advance(
            conn,
            case_id,
            to,
            role=principal.role.value,
            actor=principal.actor,
            on=api.case_in_scope(conn, web, principal, case_id),
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
    return api.download(request, principal, case_id, name)
