"""The dialogue's forms (issue 14, item 3): reading an answer (yes / no, a number, a
channel, a reason) and starting, continuing and completing the promise, plan, dispute,
complaint and stop-contact forms; the figures of the borrower's loans. Used by
:func:`forbear.assistant.dialogue.step`, which routes each message."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from forbear.assistant.guardrails import Screened
from forbear.assistant.nlu import Understanding
from forbear.assistant.nlu.entities import CN_DIGITS
from forbear.assistant.replies import (
    CHANNEL_NAMES,
    DISPUTE_NAMES,
    INTENT_NAMES,
    Reply,
    day,
    money,
    name,
)
from forbear.assistant.state import (
    DISPUTE_REASONS,
    START,
    STOP_CHANNELS,
    Action,
    Facts,
    LoanFacts,
    PlanChoice,
    Step,
)

# ------------------------------------------------------------------ reading the message

YES = re.compile(
    r"^(?:对|对的|是|是的|确认|确定|好|好的|可以|行|嗯|没错|没问题|同意|yes|y|yeah|yep|ok|okay|"
    r"correct|right|sure|confirm|confirmed|agreed?)[.!。！ ]*$"
)
NO = re.compile(
    r"^(?:不对|不是|不|不要|取消|算了|错了|否|no|n|nope|cancel|wrong|not right)[.!。！ ]*$"
)
CHANNEL_WORDS = (
    ("ai_call", r"语音|机器人|自动|ai|robot|automated|recorded"),
    ("call", r"电话|打电话|来电|致电|\bcalls?\b|phone|ring"),
    ("sms", r"短信|sms|\btexts?\b|message"),
    ("im", r"消息|app|微信|wechat|通知|push"),
    ("email", r"邮件|邮箱|e-?mail"),
)
REASON_WORDS = (
    ("already_paid", r"还过|已还|已经还|还了|付过|paid"),
    ("not_my_loan", r"不是我|没借|没有借|冒用|not mine|not my|never borrowed|identity"),
    ("amount_wrong", r"金额|数目|不对|多算|算错|利息|罚息|amount|wrong|too much|interest"),
)
CATEGORY_WORDS = (
    ("harassment", r"骚扰|频繁|半夜|轰炸|harass|too many|night"),
    ("third_party", r"家人|朋友|同事|通讯录|联系人|亲戚|family|friend|colleague|contacts"),
    ("privacy", r"隐私|泄露|个人信息|privacy|leak"),
    ("amount", r"金额|利息|罚息|多收|amount|interest|charge"),
    ("attitude", r"态度|骂|威胁|恐吓|辱|rude|threat|insult|shout"),
)


def plain(u: Understanding | None, s: Screened) -> str:
    return u.normalised if u is not None else s.text.strip().lower()


def choice_number(text: str, limit: int) -> int | None:
    t = text.strip().rstrip(".。")
    t = re.sub(r"^(?:方案|第|plan|option|no\.?|number)\s*", "", t)
    t = re.sub(r"(?:个|号|种)?(?:方案)?$", "", t)
    if t.isdigit():
        n = int(t)
    elif t in CN_DIGITS:  # 一 .. 九 (the Chinese numerals the model's entities read)
        n = CN_DIGITS[t]
    else:
        return None
    return n if 1 <= n <= limit else None


def match(table: tuple[tuple[str, str], ...], text: str) -> str | None:
    for code, pattern in table:
        if re.search(pattern, text):
            return code
    return None


def label_intent(text: str) -> str | None:
    """An option button the dialogue offered (its label, either language)."""
    t = text.strip().lower()
    for intent, (zh, en) in INTENT_NAMES.items():
        if t in (zh.lower(), en.lower()):
            return intent
    return None


def label(table: dict[str, tuple[str, str]], text: str) -> str | None:
    t = text.strip().lower()
    for code, (zh, en) in table.items():
        if t in (zh.lower(), en.lower(), code):
            return code
    return None


def yes_no(out: Step, lang: str) -> None:
    out.options = (
        [("对", "对"), ("不对", "不对")] if lang != "en" else [("Yes", "yes"), ("No", "no")]
    )


def need_loan(out: Step, f: Facts, pending: str) -> LoanFacts | None:
    """The loan the form is about: the one chosen, the only one, or a question."""
    loans = f.loans()
    chosen = out.slots.get("loan_id")
    if chosen is not None:
        found = next((ln for ln in loans if ln.loan_id == chosen), None)
        if found is not None:
            return found
    active = [ln for ln in loans if ln.status == "active"] or loans
    if not active:
        out.slots, out.state = {}, START
        out.say("no_loan")
        return None
    if len(active) == 1:
        out.slots["loan_id"] = active[0].loan_id
        return active[0]
    offer_loans(out, active, pending)
    return None


def offer_loans(out: Step, loans: list[LoanFacts], pending: Any) -> None:
    out.state = "choose_loan"
    out.slots["pending"] = pending
    out.options = [(f"{i}. {ln.ref}", str(i)) for i, ln in enumerate(loans, 1)]
    out.say("choose_loan")


def figures(intent: str, f: Facts, lang: str, out: Step) -> Step:
    loans = f.loans()
    if not loans:
        return out.say("no_loan")
    for ln in loans:
        if intent == "balance":
            if ln.status != "active":
                out.say("balance_line_closed", loan=ln.ref)
            elif ln.overdue_total > 0:
                out.say(
                    "balance_line",
                    loan=ln.ref,
                    overdue=money(ln.overdue_total),
                    dpd=ln.dpd,
                    outstanding=money(ln.outstanding_total),
                )
            else:
                out.say(
                    "balance_line_current", loan=ln.ref, outstanding=money(ln.outstanding_total)
                )
        elif ln.overdue_total > 0 and ln.oldest_due_date is not None:
            out.say(
                "due_line_overdue",
                loan=ln.ref,
                day=day(ln.oldest_due_date, lang),
                amount=money(ln.overdue_total),
            )
        elif ln.next_due_date is not None and ln.next_due_amount:
            out.say(
                "due_line",
                loan=ln.ref,
                day=day(ln.next_due_date, lang),
                amount=money(ln.next_due_amount),
            )
        else:
            out.say("due_line_none", loan=ln.ref)
    return out


# promise to pay


def promise_entities(out: Step, u: Understanding) -> None:
    if u.amounts:
        out.slots["amount"] = u.amounts[0].fen
    for mention in u.dates:
        if mention.on is not None:
            out.slots["date"] = mention.on.isoformat()
            out.slots.pop("ask", None)
            break
        if mention.question:
            out.slots["ask"] = mention.question


def start_promise(out: Step, u: Understanding, f: Facts, lang: str) -> Step:
    promise_entities(out, u)
    if need_loan(out, f, "promise_to_pay") is None:
        return out
    promise_next(out, u, f, lang)
    return out


def promise_next(out: Step, u: Understanding, f: Facts, lang: str) -> None:
    earliest = f.today
    latest = f.promise_latest
    when = out.slots.get("date")
    if when is not None:
        on = date.fromisoformat(str(when))
        if not earliest <= on <= latest:
            out.slots.pop("date")
            out.state = "promise_date"
            out.say("promise_date_range", earliest=day(earliest, lang), latest=day(latest, lang))
            return
    most = next(
        (ln.outstanding_total for ln in f.loans() if ln.loan_id == out.slots.get("loan_id")), 0
    )
    if "amount" in out.slots and most > 0 and not 0 < int(out.slots["amount"]) <= most:
        out.slots.pop("amount")
        out.state = "promise_amount"
        out.say("promise_amount_range", most=money(most))
        return
    if "amount" not in out.slots:
        out.state = "promise_amount"
        out.say("promise_ask_amount")
        return
    if "date" not in out.slots:
        out.state = "promise_date"
        if out.slots.pop("ask", None):
            out.say("ask_payday")
        else:
            out.say("promise_ask_date", earliest=day(earliest, lang), latest=day(latest, lang))
        return
    out.state = "promise_confirm"
    on = date.fromisoformat(str(out.slots["date"]))
    out.say("promise_confirm", day=day(on, lang), amount=money(int(out.slots["amount"])))
    yes_no(out, lang)


def promise_commit(out: Step, lang: str) -> bool:
    on = date.fromisoformat(str(out.slots["date"]))
    amount = int(out.slots["amount"])
    out.actions.append(
        Action(
            "make_promise",
            {"loan_id": out.slots["loan_id"], "amount": amount, "promised_on": on.isoformat()},
            done=Reply("promise_done", {"day": day(on, lang), "amount": money(amount)}),
        )
    )
    out.slots, out.state = {}, START
    return True


# plans


def choice_to(c: PlanChoice) -> dict[str, Any]:
    return {
        "key": c.key,
        "plan_type": c.plan_type,
        "months": c.months,
        "count": c.count,
        "first_due_date": c.first_due_date.isoformat(),
        "first_amount": c.first_amount,
        "largest_amount": c.largest_amount,
        "total": c.total,
    }


def choice_from(d: dict[str, Any]) -> PlanChoice:
    return PlanChoice(
        key=str(d["key"]),
        plan_type=str(d["plan_type"]),
        months=d.get("months"),
        count=int(d["count"]),
        first_due_date=date.fromisoformat(str(d["first_due_date"])),
        first_amount=int(d["first_amount"]),
        largest_amount=int(d["largest_amount"]),
        total=int(d["total"]),
    )


def plan_params(c: PlanChoice, lang: str) -> dict[str, Any]:
    return {
        "count": c.count,
        "months": c.months or 0,
        "first_day": day(c.first_due_date, lang),
        "first_amount": money(c.first_amount),
        "largest": money(c.largest_amount),
        "total": money(c.total),
    }


def schedule_line(n: int, on: date, parts: list[tuple[str, int]], lang: str) -> Reply:
    """One day of a plan's schedule: what falls due, and its lines when there are more
    than one (the plan's instalment and a contract instalment it keeps)."""
    total = sum(fen for _, fen in parts)
    params: dict[str, Any] = {"n": n, "day": day(on, lang), "amount": money(total)}
    if len(parts) == 1:
        return Reply("plan_schedule_line", params)
    names = {"plan": ("分期", "plan instalment"), "contract": ("原合同期供", "contract instalment")}
    joiner = "，" if lang != "en" else ", "
    detail = joiner.join(f"{name(names, kind, lang)} {money(fen)}" for kind, fen in parts)
    return Reply("plan_schedule_line_parts", params | {"parts": detail})


def start_plan(out: Step, f: Facts, lang: str, wanted: str | None) -> Step:
    pending = {"restructure": "request_instalment", "deferral": "request_deferral"}.get(
        wanted or "", "hardship"
    )
    loan = need_loan(out, f, pending)
    if loan is None:
        return out
    choices = f.plan_options(loan.loan_id)
    if wanted is not None and any(c.plan_type == wanted for c in choices):
        choices = [c for c in choices if c.plan_type == wanted]
    if not choices:
        out.slots, out.state = {}, START
        return out.say("plan_none").hand_over("other")
    out.slots = {"loan_id": loan.loan_id, "choices": [choice_to(c) for c in choices]}
    offer_plans(out, choices, lang)
    return out


def offer_plans(out: Step, choices: list[PlanChoice], lang: str) -> None:
    out.state = "plan_choose"
    lines = []
    for n, c in enumerate(choices, 1):
        key = "plan_line_deferral" if c.plan_type == "deferral" else "plan_line_restructure"
        lines.append(Reply(key, {"n": n, **plan_params(c, lang)}))
    out.replies.append(Reply("plan_options", {"lines": lines}))
    out.options = [(str(n), str(n)) for n in range(1, len(choices) + 1)]


# dispute, complaint, stop contact


def start_dispute(out: Step, f: Facts, lang: str, reason: str | None) -> Step:
    loan = need_loan(out, f, "dispute")
    if loan is None:
        return out
    if reason is not None and reason != "amount_wrong":
        dispute_commit(out, loan.loan_id, reason)
        return out
    out.state = "dispute_reason"
    out.slots = {"loan_id": loan.loan_id}
    out.options = [
        (name(DISPUTE_NAMES, r, lang), name(DISPUTE_NAMES, r, lang)) for r in DISPUTE_REASONS
    ]
    return out.say("dispute_ask")


def dispute_commit(out: Step, loan_id: int, reason: str) -> None:
    out.actions.append(
        Action(
            "dispute",
            {"loan_id": loan_id, "reason": reason},
            done=Reply("dispute_done", {}),
            conflict=Reply("dispute_open"),
        )
    )
    out.slots, out.state = {}, START


def start_complaint(out: Step, u: Understanding, s: Screened, f: Facts) -> Step:
    loans = f.loans()
    loan_id = loans[0].loan_id if len(loans) == 1 else None
    if len(s.text.strip()) >= 12:  # the message already says what it is about
        complaint_commit(out, loan_id, s.text, u.normalised)
        return out
    out.state = "complaint_text"
    out.slots = {"loan_id": loan_id}
    return out.say("complaint_ask")


def complaint_commit(out: Step, loan_id: Any, text: str, plain: str) -> None:
    category = match(CATEGORY_WORDS, plain) or "other"
    out.actions.append(
        Action(
            "complain",
            {"loan_id": loan_id, "category": category, "description": text.strip()},
            done=Reply("complaint_done", {}),
        )
    )
    out.slots, out.state = {}, START


def start_stop(out: Step, s: Screened, lang: str) -> Step:
    channel = match(CHANNEL_WORDS, s.text.lower())
    if channel is not None:
        stop_commit(out, channel, lang)
        return out
    offer_channels(out, lang)
    return out


def offer_channels(out: Step, lang: str) -> None:
    out.state = "stop_channel"
    out.options = [
        (name(CHANNEL_NAMES, c, lang), name(CHANNEL_NAMES, c, lang)) for c in STOP_CHANNELS
    ]
    out.say("stop_ask")


def stop_commit(out: Step, channel: str, lang: str) -> None:
    label = name(CHANNEL_NAMES, channel, lang)
    out.actions.append(
        Action(
            "opt_out",
            {"channel": channel},
            done=Reply("stop_done", {"channel": label}),
            conflict=Reply("stop_already", {"channel": label}),
        )
    )
    out.slots, out.state = {}, START
