"""Collection work on the pages: promises, plans and scripts on the account page (the legal
console is :mod:`forbear.web.pages.legal`).

The account page (:mod:`forbear.web.pages.accounts`) asks :func:`account_extras` for the
promises, plans, script lines and plan limits of the account it shows. Forms post here
and redirect back (post, redirect, get), except the plan quote, which renders the account
page with the computed schedule and a save button (nothing stored until saved). Every
form carries the CSRF token; the services refuse bad input before writing anything.
Every form and page calls one use case (:mod:`forbear.services.promises.desk`,
:mod:`forbear.services.plans.desk`, :mod:`forbear.services.script_panel`), which checks
the permission and the scope, as the API's routes do; both render through
:mod:`forbear.web.collection_views`.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Connection

from forbear.domain.errors import Conflict, ValidationError
from forbear.domain.money import parse_yuan
from forbear.domain.plans.policy import BeyondAuthority
from forbear.services import script_panel
from forbear.services.plans import OfferResult
from forbear.services.plans import approvals as plan_approvals
from forbear.services.plans import desk as plan_desk
from forbear.services.promises import desk as promise_desk
from forbear.web import collection_views as views
from forbear.web.deps import require_any, state_of, translator
from forbear.web.pages.account_parts import account_section
from forbear.web.permissions import CONTACT, MAX_ID
from forbear.web.sessions import Principal

router = APIRouter()
Contactor = Annotated[Principal, Depends(require_any(*CONTACT))]
Offerer = Annotated[Principal, Depends(require_any("plan.offer"))]
LoanId = Annotated[int, Path(ge=1, le=MAX_ID)]
PlanId = Annotated[int, Path(ge=1, le=MAX_ID)]
PLAN_TYPES = ("deferral", "restructure", "settlement", "hardship")
NOTICES = (
    "promise_saved",
    "promise_cancelled",
    "plan_saved",
    "plan_accepted",
    "plan_cancelled",
    "plan_submitted",
)


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
    if fen < (1 if required else 0) or fen > views.MAX_FEN:
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
    actor, now, today = principal.as_actor(), web.now(), web.today()
    day = as_of or today
    found = plan_desk.limits(conn, actor, loan_id, day)
    limits = views.limits_out(found) if found is not None else None
    notices: dict[str, int] = {}
    for name in NOTICES:
        raw = request.query_params.get(name, "")
        if raw.isdigit() and 1 <= int(raw) <= MAX_ID:
            notices[name] = int(raw)
    attempt = request.query_params.get("promise_attempt", "")
    plans = [
        views.plan_out(p) for p in plan_desk.of_loan(conn, actor, loan_id, now=now, today=today)
    ]
    lines = {
        p.plan_id: plan_desk.detail(conn, actor, p.plan_id, now=now, today=today)[1]
        for p in plans[:10]
    }
    panel = script_panel.panel(conn, actor, loan_id, now=now, today=today, lang=t.lang, as_of=day)
    submitted = plan_approvals.of_loan(
        conn, actor, loan_id, vault=web.forbear.vault, now=now, today=today
    )
    return {
        "approvals": [views.approval_out(a, t) for a in submitted],
        "plan_terms": {p.plan_id: views.terms_text(p.plan_type, p.terms, t) for p in plans},
        "plan_fields": views.PLAN_FIELDS,
        "promises": views.promise_rows(
            promise_desk.of_loan(conn, actor, loan_id, now=now, today=today)
        ),
        "plans": plans,
        "plan_lines": {pid: [views.line_out(ln) for ln in found] for pid, found in lines.items()},
        "scripts": views.scripts_out(panel, t.lang),
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
            promise_id = promise_desk.take(
                conn,
                principal.as_actor(),
                loan_id,
                amount=amount,
                promised_on=day,
                now=web.now(),
                today=web.today(),
                contact_attempt_id=attempt,
                replace=replace == "1",
            )
    except (ValidationError, Conflict) as exc:
        from forbear.web.pages.account_parts import account_page as _account_page

        message, status = _refusal(request, exc)
        form = {"amount_yuan": amount_yuan, "promised_on": promised_on}
        field = None
        if isinstance(exc, ValidationError):  # the service's names, the form's names
            field = {"amount": "amount_yuan"}.get(exc.field, exc.field)
        return _account_page(
            request,
            principal,
            loan_id,
            status_code=status,
            extra={"promise_error": message, "promise_form": form, "promise_error_field": field},
        )
    return _back(loan_id, f"promise_saved={promise_id}", "promises")


def _refusal(request: Request, exc: ValidationError | Conflict) -> tuple[str, int]:
    t = translator(request)
    if isinstance(exc, ValidationError):
        label, reason = views.refusal_words(exc, t, "collection")
        return t("error.validation", field=label, reason=reason), 422
    return t("error.conflict", reason=exc.message), 409


@router.post("/promises/{promise_id}/cancel")
def cancel_promise(
    request: Request,
    principal: Contactor,
    promise_id: Annotated[int, Path(ge=1, le=MAX_ID)],
) -> Response:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        loan_id = promise_desk.withdraw(
            conn, principal.as_actor(), promise_id, now=web.now(), today=web.today()
        )
    return _back(loan_id, f"promise_cancelled={promise_id}", "promises")


def _plan_in(form: dict[str, str]) -> views.PlanIn:
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
    return views.PlanIn(
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
) -> OfferResult | Response:
    """The offer computed (and saved with ``save``), or the account page with the refusal."""
    web, t = state_of(request), translator(request)
    try:
        body = _plan_in(form)
        with web.forbear.transaction() as conn:
            return plan_desk.offer(
                conn,
                principal.as_actor(),
                loan_id,
                body.plan_request(),
                now=web.now(),
                today=web.today(),
                income=body.income_fen,
                expenses=body.expenses_fen,
                save=save,
            )
    except BeyondAuthority as exc:
        refusal = views.beyond_authority(exc, t)
        return _plan_refused(request, principal, loan_id, form, refusal, submit=True)
    except (ValidationError, Conflict) as exc:
        return _plan_refused(request, principal, loan_id, form, exc)


@router.post("/accounts/{loan_id}/plans/quote")
def quote_plan(request: Request, principal: Offerer, loan_id: LoanId, form: PlanForm) -> Response:
    from forbear.web.pages.account_parts import account_page as _account_page

    result = _offer(request, principal, loan_id, form, save=False)
    if isinstance(result, Response):
        return result
    quote = views.quote_out(result, translator(request))
    return _account_page(request, principal, loan_id, extra={"quote": quote, "plan_form": form})


def _plan_refused(
    request: Request,
    principal: Principal,
    loan_id: int,
    form: dict[str, str],
    exc: ValidationError | Conflict,
    *,
    submit: bool = False,
    reason: str = "",
) -> Response:
    """The account page again, the plan form keeping its values, with the refusal (and,
    for a plan beyond the agent's authority, the form that submits it for approval)."""
    from forbear.web.pages.account_parts import account_page as _account_page

    message, status = _refusal(request, exc)
    extra: dict[str, Any] = {"plan_form": form, "plan_error": message}
    if isinstance(exc, ValidationError):
        extra["plan_error_field"] = exc.field
    if submit:
        extra |= {"plan_submit": True, "submit_reason": reason}
    return _account_page(request, principal, loan_id, status_code=status, extra=extra)


@router.post("/accounts/{loan_id}/plans/submit")
def submit_plan(
    request: Request,
    principal: Offerer,
    loan_id: LoanId,
    form: PlanForm,
    reason: Annotated[str, Form(max_length=plan_approvals.MAX_REASON)] = "",
) -> Response:
    """Submit a plan beyond the agent's authority, with a reason, for a supervisor."""
    web = state_of(request)
    try:
        body = _plan_in(form)
        with web.forbear.transaction() as conn:
            sent = plan_approvals.submit(
                conn,
                principal.as_actor(),
                loan_id,
                body.plan_request(),
                reason=reason,
                vault=web.forbear.vault,
                now=web.now(),
                today=web.today(),
                income=body.income_fen,
                expenses=body.expenses_fen,
            )
    except BeyondAuthority as exc:  # beyond the supervisor's authority too
        refusal = views.beyond_authority(exc, translator(request))
        return _plan_refused(request, principal, loan_id, form, refusal)
    except (ValidationError, Conflict) as exc:
        return _plan_refused(request, principal, loan_id, form, exc, submit=True, reason=reason)
    return _back(loan_id, f"plan_submitted={sent.id}", "plan")


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
        found = plan_desk.accept(
            conn, principal.as_actor(), plan_id, now=web.now(), today=web.today()
        )
    return _back(found.loan_id, f"plan_accepted={plan_id}", "plans")


@router.post("/plans/{plan_id}/cancel")
def cancel_plan(request: Request, principal: Offerer, plan_id: PlanId) -> Response:
    web = state_of(request)
    with web.forbear.transaction() as conn:  # plan.approve for an accepted plan: the use case
        found = plan_desk.cancel(
            conn, principal.as_actor(), plan_id, now=web.now(), today=web.today()
        )
    return _back(found.loan_id, f"plan_cancelled={plan_id}", "plans")
