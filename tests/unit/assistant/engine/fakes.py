"""A fake Understander and fake Facts for the dialogue's unit tests (the Protocols of
forbear.assistant.nlu and forbear.assistant.dialogue)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from forbear.assistant.dialogue import LoanFacts, Party, PlanChoice, VerifyResult
from forbear.assistant.nlu import Amount, DateMention, Understanding

TODAY = date(2026, 11, 26)


class FakeUnderstander:
    """Understands what the test tells it to: ``script[text] = (intent, confident, ...)``."""

    def __init__(self) -> None:
        self.script: dict[str, Understanding] = {}

    def teach(
        self,
        text: str,
        intent: str,
        *,
        confident: bool = True,
        runner_up: str | None = None,
        amounts: tuple[int, ...] = (),
        dates: tuple[date | None, ...] = (),
        digits: tuple[str, ...] = (),
        language: str = "zh",
    ) -> Understanding:
        found = Understanding(
            text=text,
            normalised=text.lower(),
            language="en" if language == "en" else "zh",
            intent=intent,
            confidence=0.95 if confident else 0.4,
            runner_up=runner_up,
            margin=0.8 if confident else 0.05,
            confident=confident,
            amounts=tuple(Amount(a, str(a)) for a in amounts),
            dates=tuple(
                DateMention(d, "d", None if d is not None else "ask_payday") for d in dates
            ),
            digits=digits,
        )
        self.script[text] = found
        return found

    def understand(self, text: str, *, today: date) -> Understanding:
        del today
        return self.script.get(text) or self.teach(text, "out_of_scope", confident=False)


def loan(loan_id: int = 7, ref: str = "L0007", overdue: int = 1_239_582) -> LoanFacts:
    return LoanFacts(
        loan_id=loan_id,
        ref=ref,
        status="active",
        dpd=40,
        overdue_total=overdue,
        outstanding_total=1_465_941,
        next_due_date=TODAY + timedelta(days=19),
        next_due_amount=211_000,
        oldest_due_date=TODAY - timedelta(days=40),
    )


PLANS = [
    PlanChoice("deferral-1", "deferral", 1, 8, date(2027, 1, 15), 200_000, 211_000, 1_500_000),
    PlanChoice(
        "restructure-6", "restructure", None, 6, date(2026, 12, 15), 250_000, 250_001, 1_500_006
    ),
]


@dataclass
class FakeFacts:
    verified: bool = True
    party: Party = "session"
    verification: VerifyResult | None = None
    today: date = TODAY
    loans_: list[LoanFacts] = field(default_factory=lambda: [loan()])
    plans: list[PlanChoice] = field(default_factory=lambda: list(PLANS))
    reads: int = 0

    @property
    def promise_latest(self) -> date:
        return self.today + timedelta(days=30)

    def loans(self) -> list[LoanFacts]:
        assert self.verified, "the dialogue read a debt before identity was verified"
        self.reads += 1
        return self.loans_

    def plan_options(self, loan_id: int) -> list[PlanChoice]:
        assert self.verified
        return self.plans

    def plan_schedule(self, loan_id: int, key: str) -> list[tuple[date, list[tuple[str, int]]]]:
        assert self.verified
        plan = next(p for p in self.plans if p.key == key)
        days = [
            (date(2026 + (11 + i) // 12, (11 + i) % 12 + 1, 15), [("plan", plan.first_amount)])
            for i in range(plan.count)
        ]
        days[0] = (days[0][0], [("plan", plan.first_amount), ("contract", 113_179)])
        return days

    def rights(self) -> tuple[list[str], int, str]:
        return ["08:00-21:00"], 15, "12378"

    def payment_methods(self) -> tuple[str, ...]:
        return ("bank_transfer", "alipay")
