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

from forbear.assistant.forms import (
    CHANNEL_WORDS,
    NO,
    REASON_WORDS,
    YES,
    choice_from,
    choice_number,
    complaint_commit,
    dispute_commit,
    figures,
    label,
    label_intent,
    match,
    offer_channels,
    offer_loans,
    offer_plans,
    plain,
    plan_params,
    promise_commit,
    promise_entities,
    promise_next,
    schedule_line,
    start_complaint,
    start_dispute,
    start_plan,
    start_promise,
    start_stop,
    stop_commit,
    yes_no,
)
from forbear.assistant.guardrails import Screened
from forbear.assistant.nlu import Understanding
from forbear.assistant.replies import (
    CHANNEL_NAMES,
    DISPUTE_NAMES,
    INTENT_NAMES,
    METHOD_NAMES,
    Reply,
    name,
)
from forbear.assistant.state import (
    DEBT_INTENTS,
    DISPUTE_REASONS,
    HANDED_OVER,
    START,
    STOP_CHANNELS,
    THIRD_PARTY,
    Action,
    Facts,
    LoanFacts,
    Party,
    PlanChoice,
    State,
    Step,
    VerifyResult,
)

__all__ = [
    "DEBT_INTENTS",
    "DISPUTE_REASONS",
    "HANDED_OVER",
    "START",
    "STOP_CHANNELS",
    "THIRD_PARTY",
    "Action",
    "Facts",
    "LoanFacts",
    "Party",
    "PlanChoice",
    "State",
    "Step",
    "VerifyResult",
    "step",
]

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
    if s.forbidden_request:
        out.intent = "forbidden_request"
        return out.say("refuse_forbidden")
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
    intent = label_intent(s.text) or u.intent
    # a promise that names both an amount and a day is one, however sure the model is
    promise = u.intent == "promise_to_pay" and bool(u.amounts) and bool(u.dates)
    sure = u.confident or promise or label_intent(s.text) is not None
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
        return start_dispute(out, f, lang, reason="not_my_loan")
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
        return figures(intent, f, lang, out)
    if intent == "fee_waiver":
        return out.say("fee_waiver").hand_over("other")
    if intent == "already_paid":
        return out.say("already_paid").hand_over("other")
    if intent == "hardship":
        out.say("hardship")
        return start_plan(out, f, lang, None)
    if intent in ("request_instalment", "request_deferral"):
        wanted = "restructure" if intent == "request_instalment" else "deferral"
        return start_plan(out, f, lang, wanted)
    if intent == "promise_to_pay":
        return start_promise(out, u, f, lang)
    if intent == "dispute":
        return start_dispute(out, f, lang, reason=match(REASON_WORDS, s.text.lower()))
    if intent == "complaint":
        return start_complaint(out, u, s, f)
    if intent == "stop_contact":
        return start_stop(out, s, lang)
    return out.say("out_of_scope")


def _ask_verify(out: Step, intent: str | None, u: Understanding) -> Step:
    out.state = "verify"
    out.slots = {"pending": intent}
    if intent == "promise_to_pay":
        promise_entities(out, u)
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
    text = plain(u, s)
    form_intent = _FORM_INTENTS.get(name_)
    leaving = sure and intent in ("human", "goodbye", "complaint", "dispute", "stop_contact")
    if name_ in ("promise_confirm", "plan_confirm") and (YES.match(text) or NO.match(text)):
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
        picked = choice_number(text, len(loans))
        by_ref = next((ln for ln in loans if ln.ref.lower() in text), None)
        chosen = loans[picked - 1] if picked else by_ref
        if chosen is None:
            if leaving or (sure and intent != state.slots.get("pending")):
                return False
            offer_loans(out, loans, state.slots.get("pending"))
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
        promise_entities(out, u)
        changed = out.slots != before
        if name_ == "promise_confirm" and not changed:
            if YES.match(text):
                return promise_commit(out, lang)
            if NO.match(text):
                out.slots, out.state = {}, START
                out.say("cancelled")
                return True
            if sure and intent != "promise_to_pay":
                return False
            out.say("yes_or_no")
            yes_no(out, lang)
            return True
        if (
            not changed
            and sure
            and intent not in ("promise_to_pay", "verify_identity")
            and not (u.amounts or u.dates)
        ):
            return False
        promise_next(out, u, f, lang)
        return True
    if name_ in ("plan_choose", "plan_confirm"):
        if leaving:
            return False
        out.intent = form_intent
        choices = [choice_from(c) for c in state.slots.get("choices", [])]
        if name_ == "plan_choose":
            n = choice_number(text, len(choices))
            if n is None:
                if sure and intent not in ("request_instalment", "request_deferral", "hardship"):
                    return False
                offer_plans(out, choices, lang)
                return True
            plan = choices[n - 1]
            out.slots["chosen"] = plan.key
            out.state = "plan_confirm"
            schedule = f.plan_schedule(int(state.slots["loan_id"]), plan.key)
            if schedule:
                lines = [
                    schedule_line(i, on, parts, lang) for i, (on, parts) in enumerate(schedule, 1)
                ]
                params = plan_params(plan, lang) | {"count": len(schedule), "schedule": lines}
                out.say("plan_confirm_schedule", **params)
            else:
                out.say("plan_confirm", **plan_params(plan, lang))
            yes_no(out, lang)
            return True
        chosen_key = state.slots.get("chosen")
        chosen_ = next((c for c in choices if c.key == chosen_key), None)
        if chosen_ is not None and YES.match(text):
            out.actions.append(
                Action(
                    "choose_plan",
                    {"loan_id": state.slots["loan_id"], "option": chosen_.key},
                    done=Reply("plan_done", plan_params(chosen_, lang)),
                )
            )
            out.slots, out.state = {}, START
            return True
        if NO.match(text):
            out.state = "plan_choose"
            out.slots.pop("chosen", None)
            offer_plans(out, choices, lang)
            return True
        if sure and intent not in ("request_instalment", "request_deferral", "hardship"):
            return False
        out.say("yes_or_no")
        yes_no(out, lang)
        return True
    if name_ == "dispute_reason":
        if sure and intent in ("human", "goodbye", "complaint", "stop_contact"):
            return False
        out.intent = form_intent
        reason = label(DISPUTE_NAMES, s.text) or match(REASON_WORDS, text) or "other"
        dispute_commit(out, state.slots["loan_id"], reason)
        return True
    if name_ == "complaint_text":
        if sure and intent in ("human", "goodbye", "dispute", "stop_contact"):
            return False
        out.intent = form_intent
        complaint_commit(out, state.slots.get("loan_id"), s.text, text)
        return True
    if name_ == "stop_channel":
        if sure and intent in ("human", "goodbye", "complaint", "dispute"):
            return False
        out.intent = form_intent
        channel = label(CHANNEL_NAMES, s.text) or match(CHANNEL_WORDS, text)
        if channel is None:
            offer_channels(out, lang)
            return True
        stop_commit(out, channel, lang)
        return True
    return False
