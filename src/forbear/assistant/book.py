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
from forbear.domain.promises import DEFAULT_POLICY
from forbear.services import assistant as conversations
from forbear.services import portal


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
        """The plans the portal offers, told by the day as the borrower pays
        (:class:`forbear.services.portal.PlanOption`)."""
        return [
            PlanChoice(
                key=o.key,
                plan_type=o.plan_type,
                months=o.months,
                count=o.lines,
                first_due_date=o.first_due_date,
                first_amount=o.first_amount,
                largest_amount=o.largest_amount,
                total=o.total,
            )
            for o in self._options(loan_id)
        ]

    def plan_schedule(self, loan_id: int, key: str) -> list[tuple[date, list[tuple[str, int]]]]:
        """What falls due on each day under the plan option ``key``: the day and its lines
        (kind ``plan`` or ``contract``, amount), as the policy computes it for the portal
        (nothing stored); empty when it cannot be computed now."""
        for o in self._options(loan_id):
            if o.key == key:
                return [(d.due_date, list(d.parts)) for d in o.days]
        return []

    def _options(self, loan_id: int) -> list[portal.PlanOption]:
        options, _ = portal.plan_options(self._conn, self._borrower(), loan_id, self._as_of)
        return options

    def rights(self) -> tuple[list[str], int, str]:
        r = portal.rights(self._rules)
        return r.contact_windows, r.complaint_days, r.hotline

    def payment_methods(self) -> tuple[str, ...]:
        return tuple(portal.PAYMENT_METHODS)
