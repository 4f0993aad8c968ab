"""What the assistant says: every reply text by key, in Chinese (first) and English, and
the way it writes amounts and days.

The dialogue (:mod:`.dialogue`) chooses keys and parameters, never text; :func:`render`
fills them. No text here demands payment, threatens, promises a waiver, or names anyone:
the tests check every entry against the content filter and
:func:`forbear.domain.compliance.assistant.demands_payment`. Keys in :data:`SAFE` say
nothing about a debt (not even that one exists): the only ones that may be sent before
identity is verified (:mod:`.guardrails` holds the dialogue to that).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

Lang = str  # "zh" or "en"

_WEEKDAYS_ZH = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")


def money(fen: int, lang: Lang = "zh") -> str:
    """``¥2,000.00`` (both languages: the borrower's currency)."""
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(int(fen)), 100)
    return f"{sign}¥{yuan:,}.{cents:02d}"


def day(on: date, lang: Lang = "zh") -> str:
    """``2026年12月11日（星期五）`` / ``Friday 11 December 2026``."""
    if lang == "en":
        return f"{on.strftime('%A')} {on.day} {on.strftime('%B')} {on.year}"
    return f"{on.year}年{on.month}月{on.day}日（{_WEEKDAYS_ZH[on.weekday()]}）"


CHANNEL_NAMES: dict[str, tuple[str, str]] = {
    "call": ("电话", "phone calls"),
    "ai_call": ("智能语音电话", "automated calls"),
    "sms": ("短信", "text messages"),
    "im": ("App消息", "app messages"),
    "email": ("邮件", "e-mail"),
}
METHOD_NAMES: dict[str, tuple[str, str]] = {
    "bank_transfer": (
        "银行转账（还款账户见借款合同或App）",
        "bank transfer (to the account in your contract or app)",
    ),
    "alipay": ("支付宝", "Alipay"),
    "wechat_pay": ("微信支付", "WeChat Pay"),
    "union_pay": ("云闪付", "UnionPay"),
}
DISPUTE_NAMES: dict[str, tuple[str, str]] = {
    "amount_wrong": ("金额不对", "The amount is wrong"),
    "already_paid": ("我已经还过了", "I have already paid"),
    "not_my_loan": ("不是我的借款", "This is not my loan"),
    "other": ("其他原因", "Another reason"),
}
INTENT_NAMES: dict[str, tuple[str, str]] = {
    "balance": ("查询欠款", "What I owe"),
    "due_date": ("查询还款日", "When my payment is due"),
    "promise_to_pay": ("约定还款日期", "Promise to pay on a date"),
    "request_instalment": ("申请分期", "An instalment plan"),
    "request_deferral": ("申请延期", "A deferral"),
    "hardship": ("还款有困难", "I am in financial difficulty"),
    "dispute": ("对欠款有异议", "I dispute the debt"),
    "already_paid": ("我已经还款了", "I have already paid"),
    "complaint": ("投诉", "Make a complaint"),
    "stop_contact": ("停止某种联系方式", "Stop a way of contacting me"),
    "verify_identity": ("核实身份", "Verify my identity"),
    "human": ("转人工", "Talk to a person"),
    "wrong_person": ("不是我 / 号码不对", "Wrong person or number"),
    "payment_method": ("还款方式", "How to pay"),
    "fee_waiver": ("减免费用", "Waiving fees"),
    "rights": ("我的权利", "My rights"),
    "greet": ("打招呼", "Hello"),
    "goodbye": ("结束对话", "Goodbye"),
    "abusive": ("其他", "Something else"),
    "out_of_scope": ("其他问题", "Something else"),
}


def name(table: Mapping[str, tuple[str, str]], key: str, lang: Lang) -> str:
    pair = table.get(key, (key, key))
    return pair[1] if lang == "en" else pair[0]


# key -> (zh, en). Parameters are str.format fields, filled by render().
TEXTS: dict[str, tuple[str, str]] = {
    "greet": (
        "您好，我是智能客服。我可以帮您查询欠款和还款日、约定还款日期、申请分期或延期、"
        "提出异议或投诉。请问有什么可以帮您？",
        "Hello, I am the virtual assistant. I can tell you what you owe and when, take a "
        "promise to pay, arrange an instalment plan or a deferral, and take a dispute or a "
        "complaint. How can I help?",
    ),
    "goodbye": (
        "感谢您的来信，祝您一切顺利。如有需要，随时给我们留言。",
        "Thank you for your message. Write to us any time you need.",
    ),
    "empty": (
        "您好，请问有什么可以帮您？",
        "Hello, how can I help you?",
    ),
    "unreadable": (
        "抱歉，我没能看懂这条消息。请用文字告诉我您的问题。",
        "Sorry, I could not read that message. Please tell me your question in words.",
    ),
    "too_long": (
        "您的消息较长，我只读取了前{limit}个字。如有遗漏，请分开发送。",
        "Your message was long: I read the first {limit} characters. Please send the rest "
        "separately if I missed something.",
    ),
    "need_verify": (
        "为保护您的信息安全，请先回复您身份证号码的后4位，核实身份后我再为您处理。",
        "To protect your information, please first reply with the last 4 characters of your "
        "ID number; I will help you once that is checked.",
    ),
    "verify_ok": (
        "身份已核实，谢谢。",
        "Thank you, your identity is verified.",
    ),
    "verify_wrong": (
        "核实未通过，请再试一次：请回复您身份证号码的后4位。",
        "That did not match. Please try again with the last 4 characters of your ID number.",
    ),
    "verify_locked": (
        "核实未能完成。为保护您的信息，工作人员会与您联系，您也可以登录App或网页查看。",
        "We could not complete the check. To protect your information, a member of staff "
        "will contact you; you can also sign in to the app or website.",
    ),
    "third_party": (
        "感谢您的来信。我们只能与本人沟通相关事务，会直接联系相关本人，无法向其他人提供任何信息。",
        "Thank you for your message. We can only discuss these matters with the person "
        "concerned; we will contact them directly and cannot share any information with "
        "anyone else.",
    ),
    "wrong_number": (
        "抱歉打扰了。我们已记录该号码不属于相关人员，会尽快停止向这个号码发送消息。",
        "Sorry for the trouble. We have noted that this number does not belong to the person "
        "concerned and will stop sending messages to it.",
    ),
    "no_loan": (
        "没有查到您名下需要处理的借款。如有疑问，可以回复“人工”转接工作人员。",
        "I found no loan of yours to deal with. Reply 'agent' to talk to a person.",
    ),
    "choose_loan": (
        "您有多笔借款，请问是哪一笔？",
        "You have more than one loan. Which one is it about?",
    ),
    "balance_line": (
        "借款 {loan}：当前逾期应还 {overdue}（逾期 {dpd} 天）；剩余待还合计 {outstanding}。",
        "Loan {loan}: overdue now {overdue} ({dpd} days overdue); everything still to pay "
        "{outstanding}.",
    ),
    "balance_line_current": (
        "借款 {loan}：当前没有逾期；剩余待还合计 {outstanding}。",
        "Loan {loan}: nothing overdue; everything still to pay {outstanding}.",
    ),
    "balance_line_closed": (
        "借款 {loan}：已结清或不在还款中。",
        "Loan {loan}: settled or no longer being repaid.",
    ),
    "due_line": (
        "借款 {loan}：下一期还款日 {day}，金额 {amount}。",
        "Loan {loan}: the next instalment is {amount} on {day}.",
    ),
    "due_line_overdue": (
        "借款 {loan}：最早一期未还款项的到期日为 {day}，目前逾期金额 {amount}。",
        "Loan {loan}: the oldest unpaid instalment fell due on {day}; {amount} is overdue now.",
    ),
    "due_line_none": (
        "借款 {loan}：暂无待还期次。",
        "Loan {loan}: no instalment is waiting.",
    ),
    "payment_method": (
        "您可以通过以下方式还款：{methods}。入账可能需要1至2个工作日。"
        "我们不会要求您向任何个人账户转账。",
        "You can pay by: {methods}. A payment may take 1 to 2 working days to show. We never "
        "ask you to pay into anyone's personal account.",
    ),
    "rights": (
        "您的权利：我们只会在当地时间 {windows} 之间联系您；您可以随时提出异议或投诉，"
        "投诉会在 {days} 日内答复；您也可以拨打监管投诉热线 {hotline}。"
        "您可以要求停止某种联系方式。",
        "Your rights: we contact you only between {windows} local time; you may dispute or "
        "complain at any time and a complaint is answered within {days} days; you may call "
        "the regulator's hotline {hotline}. You may ask us to stop a way of contacting you.",
    ),
    "fee_waiver": (
        "费用能否减免需要工作人员按照政策审核，我无法在这里作出承诺。我已为您转交工作人员，"
        "他们会尽快回复您。如果还款有困难，也可以了解分期或延期方案。",
        "Whether a fee can be waived is decided by staff under our policy; I cannot promise "
        "it here. I have passed your request to a member of staff, who will reply soon. If "
        "paying is hard, you can also ask about an instalment plan or a deferral.",
    ),
    "hardship": (
        "听到您遇到困难，我们很理解。我们可以一起看看有没有适合您的分期或延期方案，"
        "工作人员也会了解您的情况。",
        "I am sorry things are hard. We can look together at an instalment plan or a "
        "deferral, and a member of staff will also look at your situation.",
    ),
    "already_paid": (
        "如果您已经还过了，可以发送转账截图或交易流水号作为凭证。工作人员会核对，"
        "核实后更新您的账户。我已为您转交工作人员。",
        "If you have already paid, please send the proof (a screenshot or the transaction "
        "reference). Staff will check it and update your account. I have passed this to a "
        "member of staff.",
    ),
    "human": (
        "好的，已为您转接工作人员，请稍候，他们会尽快回复您。",
        "All right, I have asked a member of staff to take over; they will reply as soon as "
        "they can.",
    ),
    "out_of_scope": (
        "抱歉，这个问题我暂时无法回答。我可以帮您查询欠款和还款日、约定还款日期、"
        "申请分期或延期、提出异议或投诉。",
        "Sorry, I cannot help with that. I can tell you what you owe and when, take a "
        "promise to pay, arrange a plan or deferral, and take a dispute or a complaint.",
    ),
    "clarify": (
        "抱歉，我不太确定您的意思。您是想：{first}，还是{second}？",
        "Sorry, I am not sure what you mean. Is it: {first}, or {second}?",
    ),
    "not_understood": (
        "抱歉，我没能理解您的意思，已为您转接工作人员，他们会尽快回复您。",
        "Sorry, I did not understand. I have asked a member of staff to reply to you.",
    ),
    "crisis": (
        "听到您这样说，我们非常关心您的安全。您并不孤单，工作人员会尽快与您联系。"
        "如果您想找人聊聊，可以拨打全国心理援助热线 400-161-9995，"
        "或北京心理危机研究与干预中心 010-82951332；如有紧急危险，请立即拨打 110 或 120。"
        "我们已暂停催收电话，请先照顾好自己。",
        "I am very concerned for your safety. You are not alone, and a member of staff will "
        "be in touch. If you want to talk to someone, call the national psychological help "
        "line 400-161-9995 or the Beijing Psychological Crisis Research and Intervention "
        "Center 010-82951332; in immediate danger, call 110 or 120. We have paused "
        "collection calls: please look after yourself first.",
    ),
    "abusive": (
        "我理解您现在可能很着急或生气。我们希望帮您解决问题，已为您转接工作人员。",
        "I understand you may be upset. We want to help sort this out, and I have asked a "
        "member of staff to take over.",
    ),
    "refuse_forbidden": (
        "我不能冒充任何机构或他人发送内容，也不能替任何人发出威胁或透露他人的信息。"
        "关于您本人的借款，我可以帮您查询、约定还款，或为您转接工作人员。",
        "I cannot write in the name of any authority or another person, threaten anyone, "
        "or share anyone else's details. I can help with your own loan, or pass you to a "
        "member of staff.",
    ),
    "injection": (
        "我只能帮您处理与您本人借款有关的事务，例如查询欠款、约定还款、申请分期或延期、"
        "提出异议或投诉。",
        "I can only help with matters about your own loan: what you owe, a promise to pay, "
        "a plan or deferral, a dispute or a complaint.",
    ),
    "agent_joined": (
        "工作人员已加入对话，接下来由工作人员为您服务。",
        "A member of staff has joined the conversation and will answer you from now on.",
    ),
    "handed_over": (
        "已为您转接工作人员，请稍候。",
        "A member of staff will answer you shortly.",
    ),
    "fallback": (
        "抱歉，我暂时无法回答，已为您转接工作人员，他们会尽快回复您。",
        "Sorry, I cannot answer that right now. A member of staff will reply to you soon.",
    ),
    "refused": (
        "抱歉，暂时无法在线办理：{reason}。我已为您转交工作人员。",
        "Sorry, this cannot be done online now: {reason}. I have passed it to a member of staff.",
    ),
    "cancelled": (
        "好的，已取消。还有什么可以帮您？",
        "All right, cancelled. Anything else I can help with?",
    ),
    "yes_or_no": (
        "请回复“对”确认，或回复“不对”取消。",
        "Reply 'yes' to confirm or 'no' to cancel.",
    ),
    # promise to pay
    "promise_ask_amount": (
        "好的。请问您打算还款多少？",
        "All right. How much do you plan to pay?",
    ),
    "promise_ask_date": (
        "请问您打算哪天还款？（{earliest} 至 {latest} 之间）",
        "On which day do you plan to pay? (between {earliest} and {latest})",
    ),
    "ask_payday": (
        "请问具体是哪一天？例如“15号”或“下周五”。",
        "Which day exactly? For example 'the 15th' or 'next Friday'.",
    ),
    "promise_date_range": (
        "还款日期需要在 {earliest} 至 {latest} 之间。更长的安排可以申请分期。请问是哪一天？",
        "The day must be between {earliest} and {latest}; a longer arrangement is an "
        "instalment plan. Which day?",
    ),
    "promise_amount_range": (
        "承诺金额最多为剩余待还合计 {most}。请问您打算还款多少？",
        "The amount can be at most {most}, everything still to pay. How much do you plan to pay?",
    ),
    "promise_confirm": (
        "您承诺在 {day}还款 {amount}，对吗？",
        "You promise to pay {amount} on {day}, is that right?",
    ),
    "promise_done": (
        "已记录您的承诺：{day}还款 {amount}。谢谢您！",
        "Your promise is recorded: {amount} on {day}. Thank you!",
    ),
    # plans
    "plan_options": (
        "根据政策，这笔借款可以选择以下方案：\n{lines}\n请回复方案编号。",
        "Under our policy this loan can have one of these plans:\n{lines}\nReply with the "
        "plan's number.",
    ),
    "plan_line_restructure": (
        "{n}. 分{count}期：首期 {first_day}还 {first_amount}，每期最多 {largest}，合计 {total}",
        "{n}. {count} instalments: the first {first_amount} on {first_day}, at most {largest} "
        "each, {total} in all",
    ),
    "plan_line_deferral": (
        "{n}. 延期{months}个月：首期 {first_day}还 {first_amount}，共{count}期，合计 {total}",
        "{n}. A {months}-month deferral: the first {first_amount} on {first_day}, {count} "
        "instalments, {total} in all",
    ),
    "plan_none": (
        "抱歉，这笔借款目前无法在线办理分期或延期。我已为您转交工作人员，他们会看看还有什么办法。",
        "Sorry, this loan cannot have a plan online right now. I have passed it to a member "
        "of staff, who will see what else can be done.",
    ),
    "plan_confirm": (
        "您选择的方案：共{count}期，首期 {first_day}还 {first_amount}，之后每月一期，"
        "每期最多 {largest}，合计 {total}。确认办理吗？",
        "Your plan: {count} instalments, the first {first_amount} on {first_day}, then one a "
        "month of at most {largest}, {total} in all. Shall I set it up?",
    ),
    "plan_confirm_schedule": (
        "您选择的方案共{count}期：\n{schedule}\n合计 {total}。确认办理吗？",
        "Your plan has {count} instalments:\n{schedule}\n{total} in all. Shall I set it up?",
    ),
    "plan_schedule_line": (
        "第{n}期 {day} {amount}",
        "{n}. {amount} on {day}",
    ),
    "plan_schedule_line_parts": (
        "第{n}期 {day} {amount}（{parts}）",
        "{n}. {amount} on {day} ({parts})",
    ),
    "plan_done": (
        "已为您办理该方案，首期 {first_day}还 {first_amount}。完整的还款计划可以在借款页面查看。",
        "Your plan is set up: the first instalment is {first_amount} on {first_day}. The full "
        "schedule is on your loan's page.",
    ),
    # dispute
    "dispute_ask": (
        "请问您对哪方面有异议？",
        "What is the dispute about?",
    ),
    "dispute_done": (
        "已登记您的异议。核实期间我们会暂停这笔借款的催收，工作人员会在 {days} 日内核实并回复您。",
        "Your dispute is recorded. We pause collection of this loan while staff check it, and "
        "they will reply within {days} days.",
    ),
    "dispute_open": (
        "这笔借款的异议已在核实中，工作人员核实后会回复您。",
        "A dispute of this loan is already being checked; staff will reply once it is done.",
    ),
    # complaint
    "complaint_ask": (
        "请描述您要投诉的问题，我会为您登记。",
        "Please describe what you want to complain about and I will record it.",
    ),
    "complaint_done": (
        "已登记您的投诉（编号 {ref}）。我们会在 {days} 日内答复您；"
        "您也可以拨打监管投诉热线 {hotline}。",
        "Your complaint is recorded (number {ref}). We will answer within {days} days; you "
        "may also call the regulator's hotline {hotline}.",
    ),
    # stop contact
    "stop_ask": (
        "请问您希望停止哪种联系方式？",
        "Which way of contacting you should we stop?",
    ),
    "stop_done": (
        "已为您停止{channel}联系。这不影响您与我们的借款合同，我们仍会以其他合法方式、"
        "在规定时间内与您联系；您随时可以恢复。",
        "We have stopped {channel}. Your loan agreement is unchanged, and we may still "
        "contact you lawfully in other ways within the permitted hours; you can undo this at "
        "any time.",
    ),
    "stop_already": (
        "{channel}联系此前已为您停止。",
        "{channel} had already been stopped.",
    ),
}

# Before identity is verified (and to anyone not verified) these keys say less: no word of
# loans, debts or collection at all (the content filter's third-party check).
NEUTRAL: dict[str, tuple[str, str]] = {
    "greet": (
        "您好，我是智能客服，请问有什么可以帮您？",
        "Hello, I am the virtual assistant. How can I help you?",
    ),
    "refuse_forbidden": (
        "我不能冒充任何机构或他人发送内容，也不能替任何人发出威胁或透露他人的信息。"
        "请问还有什么可以帮您？",
        "I cannot write in the name of any authority or another person, threaten anyone, "
        "or share anyone else's details. How else can I help you?",
    ),
    "injection": (
        "我只能在既定的服务范围内为您提供帮助。请问有什么可以帮您？",
        "I can only help within the service I provide. How can I help you?",
    ),
    "out_of_scope": (
        "抱歉，这个问题我暂时无法回答。请问还有什么可以帮您？",
        "Sorry, I cannot help with that. Is there anything else I can do for you?",
    ),
    "clarify": (
        "抱歉，我不太确定您的意思，能换个说法告诉我吗？",
        "Sorry, I am not sure what you mean. Could you say it another way?",
    ),
    "crisis": (
        "听到您这样说，我们非常关心您的安全。您并不孤单，工作人员会尽快与您联系。"
        "如果您想找人聊聊，可以拨打全国心理援助热线 400-161-9995，"
        "或北京心理危机研究与干预中心 010-82951332；如有紧急危险，请立即拨打 110 或 120。"
        "请先照顾好自己。",
        "I am very concerned for your safety. You are not alone, and a member of staff will "
        "be in touch. If you want to talk to someone, call the national psychological help "
        "line 400-161-9995 or the Beijing Psychological Crisis Research and Intervention "
        "Center 010-82951332; in immediate danger, call 110 or 120. Please look after "
        "yourself first.",
    ),
}

# Keys that say nothing about a debt or whether one exists: the only ones sent before
# identity is verified (and the only ones a third party ever reads).
SAFE = frozenset(
    {
        "greet",
        "goodbye",
        "empty",
        "unreadable",
        "too_long",
        "need_verify",
        "verify_ok",
        "verify_wrong",
        "verify_locked",
        "third_party",
        "wrong_number",
        "rights",
        "human",
        "out_of_scope",
        "clarify",
        "not_understood",
        "crisis",
        "abusive",
        "injection",
        "refuse_forbidden",
        "agent_joined",
        "handed_over",
        "fallback",
        "cancelled",
        "yes_or_no",
    }
)


@dataclass(frozen=True)
class Reply:
    """One reply to render: a key of :data:`TEXTS` and its parameters."""

    key: str
    params: dict[str, Any] = field(default_factory=dict, hash=False)


def render(reply: Reply, lang: Lang, *, verified: bool = True) -> str:
    """The text of one reply (its :data:`NEUTRAL` form for someone not verified); a
    parameter that is a list of replies is rendered line by line (the plans on offer)."""
    zh, en = NEUTRAL[reply.key] if not verified and reply.key in NEUTRAL else TEXTS[reply.key]
    template = en if lang == "en" else zh
    if not reply.params:
        return template
    params = {
        k: "\n".join(render(r, lang, verified=verified) for r in v) if isinstance(v, list) else v
        for k, v in reply.params.items()
    }
    return template.format(**params) if "{" in template else template
