"""The dialogue: a small explicit state machine (issue 14, item 3).

:func:`step` is pure: the conversation's state, what the rules found in the message
(:class:`~forbear.assistant.guardrails.Screened`), what the model understood
(:class:`~forbear.assistant.nlu.Understanding`) and the facts of the borrower
(:class:`Facts`, read lazily through a protocol) give the next state, its slots, the
actions to take through the use cases and the replies (keys of
:mod:`forbear.assistant.replies`, never text). The engine runs the actions and renders.

States: ``start``; ``verify`` (waiting for the ID number's last 4); ``choose_loan``;
``promise_amount``, ``promise_date``, ``promise_confirm``; ``plan_choose``,
``plan_confirm``; ``dispute_reason``; ``complaint_text``; ``stop_channel``;
``handed_over``. Forms read their slots from the entities (an amount, a day; a vague day
asks the entity's follow-up question) and every amount and day is read back and confirmed
before anything is done. A form can be left for another intent the model is sure of.

The guardrails are not the dialogue's business alone: nothing about a debt is said before
identity is verified (debt intents go to ``verify`` first and resume after), a third party
gets the third-party answer, and the engine checks every rendered reply again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, Protocol

from forbear.assistant.guardrails import Screened
from forbear.assistant.nlu import Understanding
from forbear.assistant.replies import (
    CHANNEL_NAMES,
    DISPUTE_NAMES,
    INTENT_NAMES,
    METHOD_NAMES,
    Reply,
    day,
    money,
    name,
)

START = "start"
HANDED_OVER = "handed_over"
THIRD_PARTY = "third_party"  # the slot of a conversation with someone writing for another

# Intents about a debt: identity first.
DEBT_INTENTS = frozenset(
    {
        "balance",
        "due_date",
        "promise_to_pay",
        "request_instalment",
        "request_deferral",
        "hardship",
        "dispute",
        "already_paid",
        "complaint",
        "stop_contact",
        "payment_method",
        "fee_waiver",
    }
)
STOP_CHANNELS = ("call", "ai_call", "sms", "im", "email")
DISPUTE_REASONS = ("amount_wrong", "already_paid", "not_my_loan", "other")

# ------------------------------------------------------------------ facts


@dataclass(frozen=True)
class LoanFacts:
    loan_id: int
    ref: str
    status: str
    dpd: int
    overdue_total: int
    outstanding_total: int
    next_due_date: date | None
    next_due_amount: int | None
    oldest_due_date: date | None


@dataclass(frozen=True)
class PlanChoice:
    key: str  # services.portal.PlanOption.key
    plan_type: str  # "deferral" or "restructure"
    months: int | None
    count: int  # instalments of the new schedule
    first_due_date: date
    first_amount: int
    largest_amount: int
    total: int


Party = Literal["session", "debtor", "third_party", "unknown"]
VerifyResult = Literal["ok", "wrong", "locked"]


class Facts(Protocol):
    """What the dialogue may know. Only read for a verified borrower (the engine's
    implementation refuses otherwise)."""

    @property
    def today(self) -> date: ...

    @property
    def verified(self) -> bool: ...

    @property
    def party(self) -> Party: ...

    @property
    def verification(self) -> VerifyResult | None:
        """The outcome of the ID digits this message carried (None: none checked)."""
        ...

    @property
    def promise_latest(self) -> date:
        """The last day a promise may name (the promise policy's horizon)."""
        ...

    def loans(self) -> list[LoanFacts]: ...

    def plan_options(self, loan_id: int) -> list[PlanChoice]: ...

    def rights(self) -> tuple[list[str], int, str]:
        """(contact windows, complaint answer days, the regulator's hotline)"""
        ...

    def payment_methods(self) -> tuple[str, ...]: ...


# ------------------------------------------------------------------ actions


@dataclass(frozen=True)
class Action:
    kind: Literal[
        "hand_over",
        "flag_vulnerable",
        "mark_wrong_number",
        "make_promise",
        "choose_plan",
        "dispute",
        "complain",
        "opt_out",
    ]
    params: dict[str, Any] = field(default_factory=dict, hash=False)
    # what to say when it worked / when the use case refused with a Conflict
    done: Reply | None = None
    conflict: Reply | None = None


@dataclass(frozen=True)
class State:
    name: str = START
    slots: dict[str, Any] = field(default_factory=dict, hash=False)
    misses: int = 0


@dataclass
class Step:
    state: str
    slots: dict[str, Any]
    misses: int
    intent: str | None = None
    replies: list[Reply] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    options: list[tuple[str, str]] = field(default_factory=list)  # (label, value)

    def say(self, key: str, **params: Any) -> Step:
        self.replies.append(Reply(key, params))
        return self

    def hand_over(self, reason: str) -> Step:
        if not any(a.kind == "hand_over" for a in self.actions):
            self.actions.append(Action("hand_over", {"reason": reason, "intent": self.intent}))
        self.state = HANDED_OVER
        return self


# ------------------------------------------------------------------ reading the message

_YES = re.compile(
    r"^(?:对|对的|是|是的|确认|确定|好|好的|可以|行|嗯|没错|没问题|同意|yes|y|yeah|yep|ok|okay|"
    r"correct|right|sure|confirm|confirmed|agreed?)[.!。！ ]*$"
)
_NO = re.compile(
    r"^(?:不对|不是|不|不要|取消|算了|错了|否|no|n|nope|cancel|wrong|not right)[.!。！ ]*$"
)
_CN_NUMBERS = {
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CHANNEL_WORDS = (
    ("ai_call", r"语音|机器人|自动|ai|robot|automated|recorded"),
    ("call", r"电话|打电话|来电|致电|\bcalls?\b|phone|ring"),
    ("sms", r"短信|sms|\btexts?\b|message"),
    ("im", r"消息|app|微信|wechat|通知|push"),
    ("email", r"邮件|邮箱|e-?mail"),
)
_REASON_WORDS = (
    ("already_paid", r"还过|已还|已经还|还了|付过|paid"),
    ("not_my_loan", r"不是我|没借|没有借|冒用|not mine|not my|never borrowed|identity"),
    ("amount_wrong", r"金额|数目|不对|多算|算错|利息|罚息|amount|wrong|too much|interest"),
)
_CATEGORY_WORDS = (
    ("harassment", r"骚扰|频繁|半夜|轰炸|harass|too many|night"),
    ("third_party", r"家人|朋友|同事|通讯录|联系人|亲戚|family|friend|colleague|contacts"),
    ("privacy", r"隐私|泄露|个人信息|privacy|leak"),
    ("amount", r"金额|利息|罚息|多收|amount|interest|charge"),
    ("attitude", r"态度|骂|威胁|恐吓|辱|rude|threat|insult|shout"),
)


def _plain(u: Understanding | None, s: Screened) -> str:
    return u.normalised if u is not None else s.text.strip().lower()


def _choice_number(text: str, limit: int) -> int | None:
    t = text.strip().rstrip(".。")
    t = re.sub(r"^(?:方案|第|plan|option|no\.?|number)\s*", "", t)
    t = re.sub(r"(?:个|号|种)?(?:方案)?$", "", t)
    if t.isdigit():
        n = int(t)
    elif t in _CN_NUMBERS:
        n = _CN_NUMBERS[t]
    else:
        return None
    return n if 1 <= n <= limit else None


def _match(table: tuple[tuple[str, str], ...], text: str) -> str | None:
    for code, pattern in table:
        if re.search(pattern, text):
            return code
    return None


def _label_intent(text: str) -> str | None:
    """An option button the dialogue offered (its label, either language)."""
    t = text.strip().lower()
    for intent, (zh, en) in INTENT_NAMES.items():
        if t in (zh.lower(), en.lower()):
            return intent
    return None


def _label(table: dict[str, tuple[str, str]], text: str) -> str | None:
    t = text.strip().lower()
    for code, (zh, en) in table.items():
        if t in (zh.lower(), en.lower(), code):
            return code
    return None


# ------------------------------------------------------------------ the step


def step(state: State, u: Understanding | None, s: Screened, f: Facts, lang: str) -> Step:
    """The next state, slots, actions and replies for one message."""
    out = Step(state=state.name, slots=dict(state.slots), misses=state.misses)
    out.intent = u.intent if u is not None else None
    if s.empty:
        return out.say("empty")
    if s.cut:
        out.say("too_long", limit=len(s.text))
    if s.crisis:
        out.intent = "crisis"
        out.actions.append(Action("flag_vulnerable"))
        out.slots = {}
        return out.say("crisis").hand_over("crisis")
    if s.unreadable or u is None:
        return out.say("unreadable")
    if s.abuse or (u.intent == "abusive" and u.confident):
        out.intent = "abusive"
        return out.say("abusive").hand_over("abusive")
    if s.injection:
        out.intent = "injection"
        return out.say("injection")
    if s.wrong_number or (u.intent == "wrong_person" and u.confident and not f.verified):
        out.intent = "wrong_person"
        if f.party in ("debtor", "unknown", "third_party") and not f.verified:
            out.actions.append(Action("mark_wrong_number"))
            out.slots, out.state = {}, START
            return out.say("wrong_number")
    # Someone who says they write for another person is a third party for the rest of the
    # conversation, even in the borrower's own session ("我是她丈夫，用她的手机登录的").
    claimed = s.third_party or bool(state.slots.get(THIRD_PARTY))
    harmless = ("greet", "goodbye", "human", "rights", "out_of_scope")
    if claimed or (not f.verified and f.party == "third_party"):
        out.slots = {THIRD_PARTY: True} if claimed else {}
        if u.intent not in harmless:
            out.state = START
            return out.say("third_party")
    intent = _label_intent(s.text) or u.intent
    sure = u.confident or _label_intent(s.text) is not None
    out.intent = intent
    if f.verification is not None and state.name != "verify":
        # the message carried the ID digits with its request ("后四位1234，我欠多少")
        pending = intent if intent in DEBT_INTENTS else None
        state = State("verify", {"pending": pending}, state.misses)
    # a form waiting for its answer
    handled = _form(state, u, s, f, lang, out, intent, sure)
    if handled:
        return out
    if not sure:
        if state.misses >= 1:
            out.misses = 0
            return out.say("not_understood").hand_over("not_understood")
        out.misses = state.misses + 1
        first = u.intent
        second = u.runner_up or "human"
        if first == second:
            second = "human"
        out.options = [
            (name(INTENT_NAMES, first, lang), name(INTENT_NAMES, first, lang)),
            (name(INTENT_NAMES, second, lang), name(INTENT_NAMES, second, lang)),
        ]
        return out.say(
            "clarify",
            first=name(INTENT_NAMES, first, lang),
            second=name(INTENT_NAMES, second, lang),
        )
    out.misses = 0
    return _intent(intent, u, s, f, lang, out)


def _intent(intent: str, u: Understanding, s: Screened, f: Facts, lang: str, out: Step) -> Step:
    if intent in DEBT_INTENTS and out.slots.get(THIRD_PARTY):
        return out.say("third_party")
    if intent in DEBT_INTENTS and not f.verified:
        return _ask_verify(out, intent, u)
    out.state = START if out.state != HANDED_OVER else out.state
    if intent == "greet":
        return out.say("greet")
    if intent == "goodbye":
        out.slots = {}
        return out.say("goodbye")
    if intent == "human":
        return out.say("human").hand_over("asked")
    if intent == "rights":
        windows, days, hotline = f.rights()
        joiner = ", " if lang == "en" else "、"
        return out.say(
            "rights", windows=joiner.join(windows) or "08:00-21:00", days=days, hotline=hotline
        )
    if intent == "verify_identity":
        return out.say("verify_ok") if f.verified else _ask_verify(out, None, u)
    if intent == "wrong_person":  # a verified borrower: "this is not my loan"
        return _start_dispute(out, f, lang, reason="not_my_loan")
    if intent == "abusive":
        return out.say("abusive").hand_over("abusive")
    if intent == "out_of_scope":
        return out.say("out_of_scope")
    # debt intents, identity verified
    if intent == "payment_method":
        joiner = "; " if lang == "en" else "；"
        methods = joiner.join(name(METHOD_NAMES, m, lang) for m in f.payment_methods())
        return out.say("payment_method", methods=methods)
    if intent in ("balance", "due_date"):
        return _figures(intent, f, lang, out)
    if intent == "fee_waiver":
        return out.say("fee_waiver").hand_over("other")
    if intent == "already_paid":
        return out.say("already_paid").hand_over("other")
    if intent == "hardship":
        out.say("hardship")
        return _start_plan(out, f, lang, None)
    if intent in ("request_instalment", "request_deferral"):
        wanted = "restructure" if intent == "request_instalment" else "deferral"
        return _start_plan(out, f, lang, wanted)
    if intent == "promise_to_pay":
        return _start_promise(out, u, f, lang)
    if intent == "dispute":
        return _start_dispute(out, f, lang, reason=_match(_REASON_WORDS, s.text.lower()))
    if intent == "complaint":
        return _start_complaint(out, u, s, f)
    if intent == "stop_contact":
        return _start_stop(out, s, lang)
    return out.say("out_of_scope")


def _ask_verify(out: Step, intent: str | None, u: Understanding) -> Step:
    out.state = "verify"
    out.slots = {"pending": intent}
    if intent == "promise_to_pay":
        _promise_entities(out, u)
    return out.say("need_verify")


# ------------------------------------------------------------------ forms

_FORM_INTENTS = {
    "promise_amount": "promise_to_pay",
    "promise_date": "promise_to_pay",
    "promise_confirm": "promise_to_pay",
    "plan_choose": "request_instalment",
    "plan_confirm": "request_instalment",
    "dispute_reason": "dispute",
    "complaint_text": "complaint",
    "stop_channel": "stop_contact",
}


def _form(
    state: State,
    u: Understanding,
    s: Screened,
    f: Facts,
    lang: str,
    out: Step,
    intent: str,
    sure: bool,
) -> bool:
    """Handle a message that answers the form of ``state``; False: not an answer."""
    name_ = state.name
    text = _plain(u, s)
    form_intent = _FORM_INTENTS.get(name_)
    leaving = sure and intent in ("human", "goodbye", "complaint", "dispute", "stop_contact")
    if name_ in ("promise_confirm", "plan_confirm") and (_YES.match(text) or _NO.match(text)):
        leaving = False  # a yes or a no answers the question, whatever the model says
    # a sure, different request leaves any form (but digits in verify, yes/no in confirm...)
    if name_ == "verify":
        if f.verification == "ok":
            pending = state.slots.get("pending")
            out.say("verify_ok")
            out.state, out.misses = START, 0
            if pending:
                kept = {k: v for k, v in state.slots.items() if k != "pending"}
                out.slots = kept
                out.intent = pending
                _intent(str(pending), u, s, f, lang, out)
            else:
                out.slots = {}
            return True
        if f.verification == "wrong":
            out.say("verify_wrong")
            return True
        if f.verification == "locked":
            out.slots = {}
            out.say("verify_locked").hand_over("other")
            return True
        if leaving or (sure and intent not in DEBT_INTENTS and intent != "verify_identity"):
            return False
        out.say("need_verify")
        return True
    if name_ == "choose_loan":
        loans = f.loans()
        picked = _choice_number(text, len(loans))
        by_ref = next((ln for ln in loans if ln.ref.lower() in text), None)
        chosen = loans[picked - 1] if picked else by_ref
        if chosen is None:
            if leaving or (sure and intent != state.slots.get("pending")):
                return False
            _offer_loans(out, loans, state.slots.get("pending"))
            return True
        pending = str(state.slots.get("pending"))
        out.slots = {k: v for k, v in state.slots.items() if k != "pending"}
        out.slots["loan_id"] = chosen.loan_id
        out.intent = pending
        _intent(pending, u, s, f, lang, out)
        return True
    if name_ in ("promise_amount", "promise_date", "promise_confirm"):
        if leaving:
            return False
        out.intent = form_intent
        before = dict(out.slots)
        _promise_entities(out, u)
        changed = out.slots != before
        if name_ == "promise_confirm" and not changed:
            if _YES.match(text):
                return _promise_commit(out, lang)
            if _NO.match(text):
                out.slots, out.state = {}, START
                out.say("cancelled")
                return True
            if sure and intent != "promise_to_pay":
                return False
            out.say("yes_or_no")
            _yes_no(out, lang)
            return True
        if (
            not changed
            and sure
            and intent not in ("promise_to_pay", "verify_identity")
            and not (u.amounts or u.dates)
        ):
            return False
        _promise_next(out, u, f, lang)
        return True
    if name_ in ("plan_choose", "plan_confirm"):
        if leaving:
            return False
        out.intent = form_intent
        choices = [_choice_from(c) for c in state.slots.get("choices", [])]
        if name_ == "plan_choose":
            n = _choice_number(text, len(choices))
            if n is None:
                if sure and intent not in ("request_instalment", "request_deferral", "hardship"):
                    return False
                _offer_plans(out, choices, lang)
                return True
            plan = choices[n - 1]
            out.slots["chosen"] = plan.key
            out.state = "plan_confirm"
            out.say("plan_confirm", **_plan_params(plan, lang))
            _yes_no(out, lang)
            return True
        chosen_key = state.slots.get("chosen")
        chosen_ = next((c for c in choices if c.key == chosen_key), None)
        if chosen_ is not None and _YES.match(text):
            out.actions.append(
                Action(
                    "choose_plan",
                    {"loan_id": state.slots["loan_id"], "option": chosen_.key},
                    done=Reply("plan_done", _plan_params(chosen_, lang)),
                )
            )
            out.slots, out.state = {}, START
            return True
        if _NO.match(text):
            out.state = "plan_choose"
            out.slots.pop("chosen", None)
            _offer_plans(out, choices, lang)
            return True
        if sure and intent not in ("request_instalment", "request_deferral", "hardship"):
            return False
        out.say("yes_or_no")
        _yes_no(out, lang)
        return True
    if name_ == "dispute_reason":
        if sure and intent in ("human", "goodbye", "complaint", "stop_contact"):
            return False
        out.intent = form_intent
        reason = _label(DISPUTE_NAMES, s.text) or _match(_REASON_WORDS, text) or "other"
        _dispute_commit(out, state.slots["loan_id"], reason)
        return True
    if name_ == "complaint_text":
        if sure and intent in ("human", "goodbye", "dispute", "stop_contact"):
            return False
        out.intent = form_intent
        _complaint_commit(out, state.slots.get("loan_id"), s.text, text)
        return True
    if name_ == "stop_channel":
        if sure and intent in ("human", "goodbye", "complaint", "dispute"):
            return False
        out.intent = form_intent
        channel = _label(CHANNEL_NAMES, s.text) or _match(_CHANNEL_WORDS, text)
        if channel is None:
            _offer_channels(out, lang)
            return True
        _stop_commit(out, channel, lang)
        return True
    return False


def _yes_no(out: Step, lang: str) -> None:
    out.options = (
        [("对", "对"), ("不对", "不对")] if lang != "en" else [("Yes", "yes"), ("No", "no")]
    )


def _need_loan(out: Step, f: Facts, pending: str) -> LoanFacts | None:
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
    _offer_loans(out, active, pending)
    return None


def _offer_loans(out: Step, loans: list[LoanFacts], pending: Any) -> None:
    out.state = "choose_loan"
    out.slots["pending"] = pending
    out.options = [(f"{i}. {ln.ref}", str(i)) for i, ln in enumerate(loans, 1)]
    out.say("choose_loan")


def _figures(intent: str, f: Facts, lang: str, out: Step) -> Step:
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


def _promise_entities(out: Step, u: Understanding) -> None:
    if u.amounts:
        out.slots["amount"] = u.amounts[0].fen
    for mention in u.dates:
        if mention.on is not None:
            out.slots["date"] = mention.on.isoformat()
            out.slots.pop("ask", None)
            break
        if mention.question:
            out.slots["ask"] = mention.question


def _start_promise(out: Step, u: Understanding, f: Facts, lang: str) -> Step:
    _promise_entities(out, u)
    if _need_loan(out, f, "promise_to_pay") is None:
        return out
    _promise_next(out, u, f, lang)
    return out


def _promise_next(out: Step, u: Understanding, f: Facts, lang: str) -> None:
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
    _yes_no(out, lang)


def _promise_commit(out: Step, lang: str) -> bool:
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


def _choice_to(c: PlanChoice) -> dict[str, Any]:
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


def _choice_from(d: dict[str, Any]) -> PlanChoice:
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


def _plan_params(c: PlanChoice, lang: str) -> dict[str, Any]:
    return {
        "count": c.count,
        "months": c.months or 0,
        "first_day": day(c.first_due_date, lang),
        "first_amount": money(c.first_amount),
        "largest": money(c.largest_amount),
        "total": money(c.total),
    }


def _start_plan(out: Step, f: Facts, lang: str, wanted: str | None) -> Step:
    pending = {"restructure": "request_instalment", "deferral": "request_deferral"}.get(
        wanted or "", "hardship"
    )
    loan = _need_loan(out, f, pending)
    if loan is None:
        return out
    choices = f.plan_options(loan.loan_id)
    if wanted is not None and any(c.plan_type == wanted for c in choices):
        choices = [c for c in choices if c.plan_type == wanted]
    if not choices:
        out.slots, out.state = {}, START
        return out.say("plan_none").hand_over("other")
    out.slots = {"loan_id": loan.loan_id, "choices": [_choice_to(c) for c in choices]}
    _offer_plans(out, choices, lang)
    return out


def _offer_plans(out: Step, choices: list[PlanChoice], lang: str) -> None:
    out.state = "plan_choose"
    lines = []
    for n, c in enumerate(choices, 1):
        key = "plan_line_deferral" if c.plan_type == "deferral" else "plan_line_restructure"
        lines.append(Reply(key, {"n": n, **_plan_params(c, lang)}))
    out.replies.append(Reply("plan_options", {"lines": lines}))
    out.options = [(str(n), str(n)) for n in range(1, len(choices) + 1)]


# dispute, complaint, stop contact


def _start_dispute(out: Step, f: Facts, lang: str, reason: str | None) -> Step:
    loan = _need_loan(out, f, "dispute")
    if loan is None:
        return out
    if reason is not None and reason != "amount_wrong":
        _dispute_commit(out, loan.loan_id, reason)
        return out
    out.state = "dispute_reason"
    out.slots = {"loan_id": loan.loan_id}
    out.options = [
        (name(DISPUTE_NAMES, r, lang), name(DISPUTE_NAMES, r, lang)) for r in DISPUTE_REASONS
    ]
    return out.say("dispute_ask")


def _dispute_commit(out: Step, loan_id: int, reason: str) -> None:
    out.actions.append(
        Action(
            "dispute",
            {"loan_id": loan_id, "reason": reason},
            done=Reply("dispute_done", {}),
            conflict=Reply("dispute_open"),
        )
    )
    out.slots, out.state = {}, START


def _start_complaint(out: Step, u: Understanding, s: Screened, f: Facts) -> Step:
    loans = f.loans()
    loan_id = loans[0].loan_id if len(loans) == 1 else None
    if len(s.text.strip()) >= 12:  # the message already says what it is about
        _complaint_commit(out, loan_id, s.text, u.normalised)
        return out
    out.state = "complaint_text"
    out.slots = {"loan_id": loan_id}
    return out.say("complaint_ask")


def _complaint_commit(out: Step, loan_id: Any, text: str, plain: str) -> None:
    category = _match(_CATEGORY_WORDS, plain) or "other"
    out.actions.append(
        Action(
            "complain",
            {"loan_id": loan_id, "category": category, "description": text.strip()},
            done=Reply("complaint_done", {}),
        )
    )
    out.slots, out.state = {}, START


def _start_stop(out: Step, s: Screened, lang: str) -> Step:
    channel = _match(_CHANNEL_WORDS, s.text.lower())
    if channel is not None:
        _stop_commit(out, channel, lang)
        return out
    _offer_channels(out, lang)
    return out


def _offer_channels(out: Step, lang: str) -> None:
    out.state = "stop_channel"
    out.options = [
        (name(CHANNEL_NAMES, c, lang), name(CHANNEL_NAMES, c, lang)) for c in STOP_CHANNELS
    ]
    out.say("stop_ask")


def _stop_commit(out: Step, channel: str, lang: str) -> None:
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
