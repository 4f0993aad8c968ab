"""Plan calculators: one pure function per plan type, from a loan's position to an offer.

Every calculator uses the ledger's schedule code (:mod:`forbear.domain.ledger.schedules`:
``add_months`` for dates, ``level_for``/``amortise`` for interest-bearing instalments) and
conserves money component by component (see :class:`~forbear.domain.plans.model.PlanOffer`).
Rules, for a position on the base date ``B`` (unpaid amounts after the day's payments):

- **deferral** (展期) of ``N`` months: every unpaid instalment, overdue or not, keeps its
  amounts (penalty already accrued included) and falls due ``N`` months later. With the
  ``accrue`` treatment the outstanding principal bears the loan's monthly interest for the
  ``N`` months, ``N * round(P * r)``, spread evenly over the moved instalments (the last
  one takes the remainder). Refused when an instalment would still be overdue.
- **restructure** (分期重组) into ``k`` instalments: the overdue amount is replaced by ``k``
  monthly instalments from the first due date (the loan's usual day of the month, at least
  ``first_due_min_days`` after ``B``). Overdue principal is amortised at the loan's rate
  (等额本息, ``contract`` treatment) or split evenly (``none``); overdue interest, fees and
  the penalty not waived are split evenly (the last takes the remainder). The contract
  instalments not yet due stay as they are.
- **settlement** (一次性结清): one payment within ``settlement_pay_within_days`` of everything
  an early payoff owes (overdue, the current instalment under 提前还当期, the principal of
  later instalments; their interest and fees are ``released``), less a discount of ``d``%
  of it, taken from penalty, then fees, interest and principal.
- **hardship** (困难期减额还款) of ``H`` months at ``s``% of the usual instalment: ``H`` reduced
  instalments of ``floor(s% * regular)`` each (paying penalty, fees and interest before
  principal), then what is left spread evenly over ``max(remaining contract instalments,
  hardship_min_catch_up_months)`` monthly instalments. No interest is added.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from forbear.domain.errors import Conflict, ValidationError
from forbear.domain.ledger.arith import monthly_interest
from forbear.domain.ledger.schedules import add_months, amortise, level_for
from forbear.domain.money import Rounding
from forbear.domain.plans.model import (
    ZERO,
    Affordability,
    Amounts,
    LineKind,
    PlanLine,
    PlanOffer,
    PlanType,
    Position,
)
from forbear.domain.plans.policy import BeyondAuthority, Limits, PlanPolicy, Treatment
from forbear.domain.products import RepaymentMethod

COMPONENTS = ("principal", "interest", "fee", "penalty")
_R = Rounding.HALF_UP  # a plan's own amounts round like the default contract
CHARGES_FIRST = ("penalty", "fee", "interest", "principal")


@dataclass(frozen=True, slots=True)
class PlanRequest:
    """What the collector asks for. Only the fields of the plan type are used."""

    plan_type: PlanType
    months: int = 0  # deferral months, hardship months
    instalments: int = 0  # restructure
    waive_penalty_pct: int = 0  # restructure
    discount_pct: int = 0  # settlement
    payment_share_pct: int = 0  # hardship: the reduced instalment, % of the usual one

    def terms(self) -> dict[str, int]:
        fields = {
            PlanType.DEFERRAL: ("months",),
            PlanType.RESTRUCTURE: ("instalments", "waive_penalty_pct"),
            PlanType.SETTLEMENT: ("discount_pct",),
            PlanType.HARDSHIP: ("months", "payment_share_pct"),
        }[self.plan_type]
        return {name: int(getattr(self, name)) for name in fields}

    def validate(self) -> None:
        def need(name: str, low: int, high: int) -> None:
            value = getattr(self, name)
            if not low <= value <= high:
                raise ValidationError(name, f"must be between {low} and {high} (got {value})")

        if self.plan_type is PlanType.DEFERRAL:
            need("months", 1, 24)
        elif self.plan_type is PlanType.RESTRUCTURE:
            need("instalments", 1, 60)
            need("waive_penalty_pct", 0, 100)
        elif self.plan_type is PlanType.SETTLEMENT:
            need("discount_pct", 0, 99)
        else:
            need("months", 1, 24)
            need("payment_share_pct", 1, 99)


# ---------------------------------------------------------------------------- authority


def check_authority(request: PlanRequest, limits: Limits, higher: Limits | None = None) -> None:
    """Refuse (:class:`BeyondAuthority`) a request beyond ``limits``; ``higher`` (the next
    role's limits) is named in the message so the collector knows whom to ask."""

    def over(what: str, asked: int, attr: str, unit: str, *, floor: bool = False) -> None:
        limit = int(getattr(limits, attr))
        beyond = asked < limit if floor else asked > limit
        if not beyond:
            return
        hint = ""
        if higher is not None:
            other = int(getattr(higher, attr))
            if (asked >= other) if floor else (asked <= other):
                hint = f"; a {higher.role} may approve up to {other}{unit}"
            else:
                hint = f"; beyond a {higher.role}'s limit too ({other}{unit})"
        raise BeyondAuthority(limits.role, what, asked, limit, unit, hint)

    t = request.plan_type
    if t is PlanType.DEFERRAL:
        over("a deferral", request.months, "max_deferral_months", " months")
    elif t is PlanType.RESTRUCTURE:
        over("a restructuring", request.instalments, "max_restructure_instalments", " instalments")
        over("a penalty waiver", request.waive_penalty_pct, "max_penalty_waiver_pct", "%")
    elif t is PlanType.SETTLEMENT:
        over("a settlement discount", request.discount_pct, "max_settlement_discount_pct", "%")
    else:
        over("a hardship period", request.months, "hardship_max_months", " months")
        over(
            "a hardship payment share",
            request.payment_share_pct,
            "hardship_min_payment_pct",
            "%",
            floor=True,
        )


# ---------------------------------------------------------------------------- calculators


def build_offer(
    position: Position, request: PlanRequest, policy: PlanPolicy, treatment: Treatment
) -> PlanOffer:
    """The plan ``request`` asks for on ``position`` (no authority check: see
    :func:`check_authority`). Refuses plans on loans that are paid off or written off."""
    request.validate()
    if position.status != "active":
        raise Conflict(f"loan {position.loan_id} is {position.status.replace('_', ' ')}: no plan")
    t = request.plan_type
    if t is PlanType.DEFERRAL:
        offer = deferral(position, request.months, accrue=treatment.deferral_interest == "accrue")
    elif t is PlanType.RESTRUCTURE:
        offer = restructure(
            position,
            request.instalments,
            request.waive_penalty_pct,
            first_due=next_regular_due(position, policy.first_due_min_days),
            with_interest=treatment.restructure_interest == "contract",
        )
    elif t is PlanType.SETTLEMENT:
        offer = settlement(
            position,
            request.discount_pct,
            pay_by=position.as_of + timedelta(days=policy.settlement_pay_within_days),
        )
    else:
        offer = hardship(
            position,
            request.months,
            request.payment_share_pct,
            first_due=next_regular_due(position, policy.first_due_min_days),
            catch_up_months=policy.hardship_min_catch_up_months,
        )
    return _with_terms(offer, request.terms())


def _with_terms(offer: PlanOffer, terms: dict[str, int]) -> PlanOffer:
    return PlanOffer(
        offer.plan_type,
        offer.loan_id,
        offer.base_date,
        offer.lines,
        offer.covered,
        offer.added_interest,
        offer.waived,
        offer.discount,
        offer.released,
        terms,
    )


def next_regular_due(position: Position, min_days: int) -> date:
    """The first date on the loan's usual day of the month at least ``min_days`` after the
    position's date (at least one day after it)."""
    earliest = position.as_of + timedelta(days=max(min_days, 1))
    anchor = position.first_due_date
    months = (earliest.year - anchor.year) * 12 + earliest.month - anchor.month - 1
    candidate = add_months(anchor, months)
    while candidate < earliest:
        months += 1
        candidate = add_months(anchor, months)
    return candidate


def _split(amount: int, parts: int) -> list[int]:
    """``amount`` in ``parts`` equal whole-fen parts, the last taking the remainder."""
    each = amount // parts
    return [each] * (parts - 1) + [amount - each * (parts - 1)]


def _renumber(lines: list[PlanLine]) -> tuple[PlanLine, ...]:
    # by date, a plan's own instalment before a contract one on the same day
    ordered = sorted(lines, key=lambda ln: (ln.due_date, ln.kind is LineKind.CONTRACT, ln.seq))
    return tuple(
        PlanLine(k, ln.kind, ln.due_date, ln.principal, ln.interest, ln.fee, ln.penalty)
        for k, ln in enumerate(ordered, start=1)
    )


def deferral(position: Position, months: int, *, accrue: bool) -> PlanOffer:
    unpaid = [*position.overdue, *position.future]
    if not unpaid:
        raise Conflict(f"loan {position.loan_id} owes nothing: no plan")
    added = (
        months * monthly_interest(position.outstanding_principal, position.annual_rate_bp, _R)
        if accrue
        else 0
    )
    extra = _split(added, len(unpaid))
    lines = []
    for k, (line, more) in enumerate(zip(unpaid, extra, strict=True), start=1):
        due = add_months(line.due_date, months)
        if due <= position.as_of:
            raise ValidationError(
                "months",
                f"a deferral of {months} month(s) leaves the instalment due "
                f"{line.due_date.isoformat()} overdue (new date {due.isoformat()}); "
                "offer a restructuring instead",
            )
        u = line.unpaid
        lines.append(
            PlanLine(k, LineKind.PLAN, due, u.principal, u.interest + more, u.fee, u.penalty)
        )
    return PlanOffer(
        PlanType.DEFERRAL,
        position.loan_id,
        position.as_of,
        _renumber(lines),
        covered=position.total,
        added_interest=added,
        waived=ZERO,
        discount=ZERO,
        released=ZERO,
    )


def restructure(
    position: Position,
    instalments: int,
    waive_penalty_pct: int,
    *,
    first_due: date,
    with_interest: bool,
) -> PlanOffer:
    overdue = position.overdue_amounts
    if overdue.total == 0:
        raise Conflict(f"loan {position.loan_id} has nothing overdue to restructure")
    waived_penalty = overdue.penalty * waive_penalty_pct // 100
    rate = position.annual_rate_bp if with_interest else 0
    method = RepaymentMethod.EQUAL_INSTALMENT
    level = level_for(method, overdue.principal, rate, instalments, _R)
    rows = amortise(overdue.principal, level, method, rate, instalments, _R)
    interest_split = _split(overdue.interest, instalments)
    fee_split = _split(overdue.fee, instalments)
    penalty_split = _split(overdue.penalty - waived_penalty, instalments)
    lines = [
        PlanLine(
            -k,  # renumbered below
            LineKind.PLAN,
            add_months(first_due, k - 1),
            principal,
            interest + interest_split[k - 1],
            fee_split[k - 1],
            penalty_split[k - 1],
        )
        for k, (principal, interest) in enumerate(rows, start=1)
    ]
    lines += [
        PlanLine(
            line.seq,
            LineKind.CONTRACT,
            line.due_date,
            line.unpaid.principal,
            line.unpaid.interest,
            line.unpaid.fee,
            line.unpaid.penalty,
        )
        for line in position.future
    ]
    added = sum(interest for _, interest in rows)
    return PlanOffer(
        PlanType.RESTRUCTURE,
        position.loan_id,
        position.as_of,
        _renumber(lines),
        covered=position.total,
        added_interest=added,
        waived=Amounts(penalty=waived_penalty),
        discount=ZERO,
        released=ZERO,
    )


def payoff(position: Position) -> tuple[Amounts, Amounts]:
    """What an early payoff on the position's date owes, and what it releases: the
    interest and fees of instalments not yet owed (the contract's prepayment rule)."""
    owed = position.overdue_amounts
    released = ZERO
    for k, line in enumerate(position.future):
        u = line.unpaid
        if k == 0 and position.current_owed:
            owed = owed + u
        else:
            owed = owed + Amounts(principal=u.principal, penalty=u.penalty)
            released = released + Amounts(interest=u.interest, fee=u.fee)
    return owed, released


def _take(amounts: Amounts, total: int, order: tuple[str, ...]) -> Amounts:
    """``total`` fen taken from ``amounts`` in component ``order``."""
    taken: dict[str, int] = {}
    left = total
    for name in order:
        part = min(left, getattr(amounts, name))
        taken[name] = part
        left -= part
    return Amounts(**taken)


def _minus(a: Amounts, b: Amounts) -> Amounts:
    return Amounts(*(getattr(a, n) - getattr(b, n) for n in COMPONENTS))


def settlement(position: Position, discount_pct: int, *, pay_by: date) -> PlanOffer:
    owed, released = payoff(position)
    if owed.total == 0:
        raise Conflict(f"loan {position.loan_id} owes nothing: no plan")
    discount = _take(owed, owed.total * discount_pct // 100, CHARGES_FIRST)
    pay = _minus(owed, discount)
    line = PlanLine(1, LineKind.PLAN, pay_by, pay.principal, pay.interest, pay.fee, pay.penalty)
    return PlanOffer(
        PlanType.SETTLEMENT,
        position.loan_id,
        position.as_of,
        (line,),
        covered=position.total,
        added_interest=0,
        waived=ZERO,
        discount=discount,
        released=released,
    )


def hardship(
    position: Position,
    months: int,
    payment_share_pct: int,
    *,
    first_due: date,
    catch_up_months: int,
) -> PlanOffer:
    pool = position.total
    if pool.total == 0:
        raise Conflict(f"loan {position.loan_id} owes nothing: no plan")
    reduced = position.regular_payment * payment_share_pct // 100
    lines: list[PlanLine] = []
    for h in range(months):
        if pool.total == 0:
            break
        part = _take(pool, min(reduced, pool.total), CHARGES_FIRST)
        pool = _minus(pool, part)
        lines.append(_line(-(h + 1), add_months(first_due, h), part))
    if pool.total > 0:
        count = max(len(position.future), catch_up_months)
        splits = {name: _split(getattr(pool, name), count) for name in COMPONENTS}
        for j in range(count):
            part = Amounts(**{name: splits[name][j] for name in COMPONENTS})
            lines.append(_line(-(months + j + 1), add_months(first_due, months + j), part))
    return PlanOffer(
        PlanType.HARDSHIP,
        position.loan_id,
        position.as_of,
        _renumber(lines),
        covered=position.total,
        added_interest=0,
        waived=ZERO,
        discount=ZERO,
        released=ZERO,
    )


def _line(seq: int, due: date, amounts: Amounts) -> PlanLine:
    return PlanLine(
        seq,
        LineKind.PLAN,
        due,
        amounts.principal,
        amounts.interest,
        amounts.fee,
        amounts.penalty,
    )


# ---------------------------------------------------------------------------- affordability


def affordability(
    offer: PlanOffer, income: int | None, expenses: int | None, share_pct: int
) -> Affordability:
    """Whether the largest calendar month of the plan fits ``share_pct``% of the stated
    monthly income minus expenses (fen). Not assessed without stated figures; a
    settlement is one payment from the borrower's own funds, also not assessed."""
    months = offer.monthly_totals()
    largest = max(months.values()) if months else 0
    if offer.plan_type is PlanType.SETTLEMENT or income is None or expenses is None:
        return Affordability(
            assessed=False,
            affordable=True,
            largest_monthly_payment=largest,
            reason_zh="未评估（未提供收入和支出）"
            if offer.plan_type is not PlanType.SETTLEMENT
            else "未评估（一次性还款）",
            reason_en="not assessed (no stated income and expenses)"
            if offer.plan_type is not PlanType.SETTLEMENT
            else "not assessed (one payment)",
        )
    if income < 0 or expenses < 0:
        raise ValidationError("income", "income and expenses must not be negative")
    disposable = income - expenses
    limit = max(disposable, 0) * share_pct // 100
    ok = largest <= limit
    yuan = _yuan
    if ok:
        zh = f"可负担：月供最高{yuan(largest)}元，不超过可支配收入的{share_pct}%（{yuan(limit)}元）"
        en = (
            f"affordable: largest monthly payment {yuan(largest)} yuan is within {share_pct}% "
            f"of disposable income ({yuan(limit)} yuan)"
        )
    else:
        zh = f"不可负担：月供最高{yuan(largest)}元，超过可支配收入的{share_pct}%（{yuan(limit)}元）"
        en = (
            f"unaffordable: largest monthly payment {yuan(largest)} yuan is above {share_pct}% "
            f"of disposable income ({yuan(limit)} yuan)"
        )
    return Affordability(True, ok, largest, disposable, limit, zh, en)


def _yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"


__all__ = [
    "PlanRequest",
    "affordability",
    "build_offer",
    "check_authority",
    "deferral",
    "hardship",
    "next_regular_due",
    "payoff",
    "restructure",
    "settlement",
]
