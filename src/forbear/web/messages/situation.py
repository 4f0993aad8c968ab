"""Catalogue entries of the borrower situation on the agent's account page
(:mod:`forbear.domain.situation`)."""

from __future__ import annotations

ZH: dict[str, str] = {
    "situation.governed_contract": "按合同还款计划执行。",
    "situation.governed_plan": "当前按还款计划执行。",
    "situation.governed_promise": "借款人有未到期的还款承诺。",
    "situation.needs_work": "账户需要跟进。",
    "situation.no_work": "账户当前无需催收（无逾期、计划或承诺履行中，或有暂停）。",
    "situation.limitation": "诉讼时效截止日：{date}。",
}

EN: dict[str, str] = {
    "situation.governed_contract": "The contract schedule applies.",
    "situation.governed_plan": "A repayment plan governs this loan.",
    "situation.governed_promise": "The borrower has an active promise to pay.",
    "situation.needs_work": "This account needs work.",
    "situation.no_work": (
        "No collection work is due now (nothing overdue, a plan or promise running, or a hold)."
    ),
    "situation.limitation": "Limitation date: {date}.",
}
