"""Plain data of repayment plans: types, statuses, a loan's position, an offer's schedule."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum


class PlanType(StrEnum):
    DEFERRAL = "deferral"  # 展期: every unpaid instalment moves by N months
    RESTRUCTURE = "restructure"  # 个性化分期: the overdue amount in k new instalments
    SETTLEMENT = "settlement"  # 一次性结清: one payment, with a discount
    HARDSHIP = "hardship"  # 困难减免: reduced payments for a period, the rest later

    @property
    def label_zh(self) -> str:
        return {
            PlanType.DEFERRAL: "展期",
            PlanType.RESTRUCTURE: "分期重组",
            PlanType.SETTLEMENT: "一次性结清",
            PlanType.HARDSHIP: "困难期减额还款",
        }[self]

    @property
    def label_en(self) -> str:
        return {
            PlanType.DEFERRAL: "deferral",
            PlanType.RESTRUCTURE: "instalment restructuring",
            PlanType.SETTLEMENT: "settlement",
            PlanType.HARDSHIP: "hardship",
        }[self]


class PlanStatus(StrEnum):
    OFFERED = "offered"
    ACCEPTED = "accepted"
    ACTIVE = "active"
    COMPLETED = "completed"
    BROKEN = "broken"
    CANCELLED = "cancelled"
    EXPIRED = "expired"

    @property
    def label_zh(self) -> str:
        return {
            PlanStatus.OFFERED: "已提供",
            PlanStatus.ACCEPTED: "已接受",
            PlanStatus.ACTIVE: "执行中",
            PlanStatus.COMPLETED: "已完成",
            PlanStatus.BROKEN: "已违约",
            PlanStatus.CANCELLED: "已取消",
            PlanStatus.EXPIRED: "已过期",
        }[self]


class LineKind(StrEnum):
    PLAN = "plan"  # an instalment the plan made
    CONTRACT = "contract"  # a contract instalment the plan keeps as it was


@dataclass(frozen=True, slots=True)
class Amounts:
    """Money by component, fen."""

    principal: int = 0
    interest: int = 0
    fee: int = 0
    penalty: int = 0

    @property
    def total(self) -> int:
        return self.principal + self.interest + self.fee + self.penalty

    def __add__(self, other: Amounts) -> Amounts:
        return Amounts(
            self.principal + other.principal,
            self.interest + other.interest,
            self.fee + other.fee,
            self.penalty + other.penalty,
        )


ZERO = Amounts()


@dataclass(frozen=True, slots=True)
class OpenLine:
    """What is still unpaid of one contract instalment on the position's date."""

    seq: int
    due_date: date
    scheduled_total: int  # principal + interest + fee as scheduled (before payments)
    unpaid: Amounts


@dataclass(frozen=True, slots=True)
class Position:
    """A loan's ledger position on ``as_of`` (payments on that day included).

    ``overdue`` lines fell due before ``as_of`` and are not fully paid; ``future`` lines
    fall due on or after it. ``current_owed`` is whether the first future line is owed in
    full by an early payoff (the product's ``current_instalment`` rule, 提前还当期).
    """

    loan_id: int
    as_of: date
    status: str  # active | paid_off | written_off (the ledger's)
    annual_rate_bp: int
    first_due_date: date
    overdue: tuple[OpenLine, ...]
    future: tuple[OpenLine, ...]
    current_owed: bool
    regular_payment: int  # the loan's usual instalment (scheduled total)
    dpd: int = 0

    @property
    def overdue_amounts(self) -> Amounts:
        total = ZERO
        for line in self.overdue:
            total = total + line.unpaid
        return total

    @property
    def future_amounts(self) -> Amounts:
        total = ZERO
        for line in self.future:
            total = total + line.unpaid
        return total

    @property
    def total(self) -> Amounts:
        return self.overdue_amounts + self.future_amounts

    @property
    def outstanding_principal(self) -> int:
        return self.total.principal


@dataclass(frozen=True, slots=True)
class PlanLine:
    """One instalment of a plan's effective schedule (after the base date)."""

    seq: int
    kind: LineKind
    due_date: date
    principal: int
    interest: int
    fee: int
    penalty: int = 0  # penalty interest carried from before the plan

    @property
    def total(self) -> int:
        return self.principal + self.interest + self.fee + self.penalty

    @property
    def amounts(self) -> Amounts:
        return Amounts(self.principal, self.interest, self.fee, self.penalty)


@dataclass(frozen=True, slots=True)
class Affordability:
    """Whether the plan's largest monthly payment fits the borrower's stated budget."""

    assessed: bool
    affordable: bool
    largest_monthly_payment: int
    disposable: int | None = None  # stated monthly income minus expenses
    limit: int | None = None  # the share of disposable income a plan may take
    reason_zh: str = ""
    reason_en: str = ""


@dataclass(frozen=True, slots=True)
class PlanOffer:
    """A computed plan: its schedule and how it accounts for what was owed.

    Money is conserved: ``scheduled + waived + discount + released == covered +
    added_interest`` (component by component), where ``covered`` is everything unpaid on
    the base date, ``added_interest`` the interest the plan adds (a deferral's interest
    for the extra months, a restructuring's interest on the restructured principal),
    ``waived`` the penalty the plan waives, ``discount`` a settlement's discount and
    ``released`` the interest and fees of instalments not yet owed that an early payoff
    no longer owes (the contract's prepayment rule, not a concession).
    """

    plan_type: PlanType
    loan_id: int
    base_date: date
    lines: tuple[PlanLine, ...]
    covered: Amounts
    added_interest: int
    waived: Amounts
    discount: Amounts
    released: Amounts
    terms: dict[str, int] = field(default_factory=dict)

    @property
    def scheduled(self) -> Amounts:
        total = ZERO
        for line in self.lines:
            total = total + line.amounts
        return total

    @property
    def own_lines(self) -> tuple[PlanLine, ...]:
        return tuple(line for line in self.lines if line.kind is LineKind.PLAN)

    @property
    def end_date(self) -> date:
        """The due date of the plan's last own instalment."""
        return max(line.due_date for line in self.own_lines)

    @property
    def first_due_date(self) -> date:
        return min(line.due_date for line in self.lines)

    def monthly_totals(self) -> dict[tuple[int, int], int]:
        """What falls due in each calendar month ``(year, month)``."""
        months: dict[tuple[int, int], int] = {}
        for line in self.lines:
            key = (line.due_date.year, line.due_date.month)
            months[key] = months.get(key, 0) + line.total
        return months
