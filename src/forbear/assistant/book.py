"""The dialogue's facts from the book (:class:`~forbear.assistant.dialogue.Facts`): the
borrower's loans and what they owe (:func:`forbear.services.portal.owed`, the borrower
situation, never recomputed), the plans the policy allows (:func:`~forbear.services.portal.
plan_options`), the rights and payment methods, read on demand within the message's
transaction. Nothing about a debt is read unless identity is verified."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from forbear.assistant.state import LoanFacts, Party, PlanChoice, VerifyResult
from forbear.domain.compliance.config import CompiledRules
from forbear.domain.errors import Conflict, ValidationError
from forbear.domain.plans import PlanRequest, PlanType
from forbear.domain.promises import DEFAULT_POLICY
from forbear.services import assistant as conversations
from forbear.services import plans, portal


class BookFacts:
    """The dialogue's :class:`~.dialogue.Facts` from the book, read on demand within the
    message's transaction; nothing about a debt is read unless identity is verified."""

    def __init__(
        self,
        conn: Any,
        conversation: conversations.Conversation,
        *,
        today: date,
        as_of: date,
        rules: CompiledRules,
        verification: VerifyResult | None,
    ) -> None:
        self._conn = conn
        self._conversation = conversation
        self._today = today
        self._as_of = as_of
        self._rules = rules
        self._verification = verification
        self._loans: list[LoanFacts] | None = None

    @property
    def today(self) -> date:
        return self._today

    @property
    def verified(self) -> bool:
        return self._conversation.verified and self._conversation.borrower_id is not None

    @property
    def party(self) -> Party:
        c = self._conversation
        if c.verified_by is not None and c.channel != "sms":
            return "session"
        if c.third_party:
            return "third_party"
        return "debtor" if c.owner_type is not None else "unknown"

    @property
    def verification(self) -> VerifyResult | None:
        return self._verification

    @property
    def promise_latest(self) -> date:
        return self._as_of + timedelta(days=DEFAULT_POLICY.horizon_days)

    def _borrower(self) -> int:
        borrower_id = self._conversation.borrower_id
        if not self.verified or borrower_id is None:  # the dialogue never asks: a guard
            raise PermissionError("identity is not verified")
        return borrower_id

    def loans(self) -> list[LoanFacts]:
        if self._loans is None:
            borrower_id = self._borrower()
            found: list[LoanFacts] = []
            for loan in portal.loans_of(self._conn, borrower_id):
                o = portal.owed(self._conn, borrower_id, loan.loan_id, self._as_of)
                found.append(
                    LoanFacts(
                        loan_id=loan.loan_id,
                        ref=loan.loan_ref,
                        status=o.status,
                        dpd=o.dpd,
                        overdue_total=o.overdue_total,
                        outstanding_total=o.outstanding_total,
                        next_due_date=o.next_due_date,
                        next_due_amount=o.next_due_amount,
                        oldest_due_date=o.oldest_due_date,
                    )
                )
            self._loans = found
        return self._loans

    def plan_options(self, loan_id: int) -> list[PlanChoice]:
        options, _ = portal.plan_options(self._conn, self._borrower(), loan_id, self._as_of)
        found: list[PlanChoice] = []
        for o in options:
            # told by the day, as the borrower pays: what falls due on each day
            days = self.plan_schedule(loan_id, o.key)
            amounts = [sum(fen for _, fen in parts) for _, parts in days]
            found.append(
                PlanChoice(
                    key=o.key,
                    plan_type=o.plan_type,
                    months=o.months,
                    count=len(days) if days else o.lines,
                    first_due_date=days[0][0] if days else o.first_due_date,
                    first_amount=amounts[0] if days else o.first_amount,
                    largest_amount=max(amounts) if days else o.largest_amount,
                    total=sum(amounts) if days else o.total,
                )
            )
        return found

    def plan_schedule(self, loan_id: int, key: str) -> list[tuple[date, list[tuple[str, int]]]]:
        """What falls due on each day under the plan option ``key``: the day and its lines
        (kind ``plan`` or ``contract``, amount), as the policy computes it for the portal
        (nothing stored); empty when it cannot be computed now."""
        kind, _, count = key.partition("-")
        if not count.isdigit() or kind not in ("deferral", "restructure"):
            return []
        request = (
            PlanRequest(PlanType.DEFERRAL, months=int(count))
            if kind == "deferral"
            else PlanRequest(PlanType.RESTRUCTURE, instalments=int(count))
        )
        borrower_id = self._borrower()
        portal.own_loan(self._conn, borrower_id, loan_id)
        try:
            result = plans.offer_plan(
                self._conn,
                loan_id=loan_id,
                request=request,
                role=portal.PORTAL_ROLE,
                as_of=self._as_of,
                actor=portal.actor_of(borrower_id),
                save=False,
            )
        except (Conflict, ValidationError):
            return []
        # what falls due each day: the plan's instalment and a contract instalment the plan
        # keeps on the same day are paid together
        due: dict[date, list[tuple[str, int]]] = {}
        for ln in result.offer.lines:
            if ln.due_date > self._as_of:
                total = ln.principal + ln.interest + ln.fee + ln.penalty
                due.setdefault(ln.due_date, []).append((str(ln.kind.value), total))
        return sorted(due.items())

    def rights(self) -> tuple[list[str], int, str]:
        r = portal.rights(self._rules)
        return r.contact_windows, r.complaint_days, r.hotline

    def payment_methods(self) -> tuple[str, ...]:
        return tuple(portal.PAYMENT_METHODS)
