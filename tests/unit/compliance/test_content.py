"""The content filter (REGULATIONS.md CN.LANG.*, CN.3P.NO_DISCLOSE, CN.PUBLIC.NO_POSTING,
US.REGF.TIMEBARRED, US.REGF.OPTOUT): a corpus of acceptable and forbidden messages, spans,
normalisation tricks, allow-lists, third-party disclosure and template placeholders."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from forbear.domain.compliance.content import (
    AllowList,
    Category,
    CheckContext,
    ContentRejected,
    check_template,
    check_text,
    fill,
    normalise,
    parse_lexicon,
    placeholders,
)
from forbear.domain.errors import ConfigurationError, ValidationError

PROHIBITED = "CN.LANG.PROHIBITED"
BORROWING = "CN.LANG.NO_NEW_BORROWING"
POSTING = "CN.PUBLIC.NO_POSTING"
DISCLOSE = "CN.3P.NO_DISCLOSE"

# ------------------------------------------------------------------ the corpus

CLEAN_DEBTOR = [
    # zh: ordinary reminders
    "【某某消费金融】张伟您好，您的借款本期应还1,234.56元，还款日为2026年12月15日，请按时还款。",
    "您好，您的账单已逾期3天，请尽快登录APP还款，以免产生更多罚息。",
    "尊敬的客户，您本期账单待还金额为860元，可通过APP或银行卡自动扣款还款。",
    "您好，如您近期还款有困难，可联系客服400-000-0000协商延期或分期还款方案。",
    "温馨提示：逾期记录将按规定报送金融信用信息基础数据库，请按时还款，珍惜个人信用。",
    "您的还款已到账，感谢您的支持！如有疑问请致电客服。",
    "张先生您好，我是某某消费金融的客服小王，想跟您确认一下本期的还款安排，方便时请回电。",
    "您好，您申请的还款计划已生效，首期应还500元，还款日为每月15日。",
    "我们理解您的困难，如需申请减免部分罚息，请在APP提交申请，我们会在15日内答复。",
    "您好，提醒您明天是还款日，请确保绑定银行卡余额充足。回T退订",
    # zh: rights education (allow-lists)
    "催收人员不得冒充公检法，您有权向12378投诉。",
    "我们不会联系您的通讯录，也不收取任何催收费。",
    "请勿以贷养贷，如还款困难请与我们协商。",
    "谨防诈骗：请通过官方APP还款，不要向个人账户转账。",
    "如遇冒充公检法人员，请向当地公安机关报案。",
    "您好，本公司不会冒充公安或法院，如有疑问可拨打投诉热线12378。",
    "如对账单有异议，您可以依法向人民法院提起诉讼或申请仲裁。",
    # en
    "Hi Alex, this is a reminder that your payment of $120.00 is due on December 15. "
    "Reply STOP to opt out.",
    "Your account is 3 days past due. Please log in to the app to make a payment.",
    "If you are having trouble paying, call us at 800-000-0000 to discuss a payment plan.",
    "Thank you for your payment. Your balance is now $0.",
    "We cannot have you arrested for this debt, and we will never contact your employer.",
    "You have the right to dispute this debt within 30 days of receiving this notice.",
    "Please contact our customer service team if you have questions about your statement.",
    "We do not charge collection fees. You can pay online at any time.",
    "Your next instalment of $85.50 is due on the 1st. Text STOP to unsubscribe.",
    "We're here to help: hardship options may be available if your income has changed.",
    "This is a message from Acme Finance about your account. Please call us back.",
    "您好，您在我司的借款还有3天到期，请提前准备好还款资金。",
    "按时还款可提升您的信用额度，还款后可再次借款。",
    "逾期可能影响您的个人征信记录，请及时处理。",
    "您好，我们保护您的隐私，不会向任何第三方泄露您的信息。",
    "您好，您的借款合同编号为123456，如需查询请登录APP。",
    "亲爱的用户，新年快乐！祝您阖家幸福。",
    "您可以通过支付宝、微信或银行卡还款。",
    "请核对您的身份证号和手机号是否正确。",
    "如您已还款，请忽略本短信。",
    "如对催收行为有异议，可向我司投诉或拨打12378。",
    "您好，为了您的资金安全，请勿向任何个人账户转账。",
    "Your minimum payment is $25. Pay by the due date to avoid late fees.",
    "We may report late payments to credit bureaus.",
    "If you've already paid, please disregard this message.",
    "We may be able to offer a lower monthly payment.",
    "Happy holidays from all of us at Acme Finance!",
    "This communication is from a debt collector.",
]

CLEAN_THIRD_PARTY = [
    "您好，我们是某某公司客服，有重要事情需要联系张伟先生，麻烦您转告他回电400-000-0000，谢谢。",
    "您好，请问您能帮忙转告张女士尽快与我们联系吗？谢谢您的帮助。",
    "Hello, we are trying to reach Alex Smith about a personal business matter. "
    "Please ask them to call 800-000-0000.",
    "Hi, this is Acme Finance. Could you let Alex know we called? Thank you.",
]

# (text, rule id, category, the excerpt that must be flagged: the span is where it occurs)
BAD = [
    # threats / intimidation
    ("再不还钱，小心你的家人，后果自负！", PROHIBITED, Category.THREAT, "小心你的家人"),
    ("你等着，明天就让你好看", PROHIBITED, Category.THREAT, "让你好看"),
    ("我们知道你住哪里，走着瞧", PROHIBITED, Category.THREAT, "知道你住哪里"),
    ("Pay today or we will find you.", PROHIBITED, Category.THREAT, "we will find you"),
    ("We know where you live, pay up.", PROHIBITED, Category.THREAT, "We know where you live"),
    # insults
    ("你这个老赖，还要不要脸了", PROHIBITED, Category.INSULT, "老赖"),
    ("欠钱不还的废物", PROHIBITED, Category.INSULT, "废物"),
    ("You deadbeat, pay what you owe.", PROHIBITED, Category.INSULT, "deadbeat"),
    ("Stop lying, you pathetic loser.", PROHIBITED, Category.INSULT, "loser"),
    # impersonation
    ("这里是公安局经侦大队，你的案件已经移交", PROHIBITED, Category.IMPERSONATION, "这里是公安"),
    ("我是法院工作人员，请今天处理", PROHIBITED, Category.IMPERSONATION, "我是法院"),
    ("检察院已受理你的欠款案件", PROHIBITED, Category.IMPERSONATION, "检察院"),
    (
        "This is the police department calling about your debt.",
        PROHIBITED,
        Category.IMPERSONATION,
        "This is the police",
    ),
    ("The sheriff will contact you.", PROHIBITED, Category.IMPERSONATION, "sheriff"),
    # fake legal documents / blacklists / criminal consequences
    ("你已被列入全国征信黑名单", PROHIBITED, Category.FAKE_LEGAL, "黑名单"),
    ("再不还款你就成了征信黑户", PROHIBITED, Category.FAKE_LEGAL, "征信黑户"),
    ("恶意拖欠会被拘留十五天", PROHIBITED, Category.FAKE_LEGAL, "拘留"),
    ("欠钱不还是要坐牢的", PROHIBITED, Category.FAKE_LEGAL, "坐牢"),
    ("律师函已寄出，请查收", PROHIBITED, Category.FAKE_LEGAL, "律师函"),
    ("You will be arrested if you do not pay.", PROHIBITED, Category.FAKE_LEGAL, "arrested"),
    ("A warrant has been issued in your name.", PROHIBITED, Category.FAKE_LEGAL, "warrant"),
    ("You have been blacklisted by all banks.", PROHIBITED, Category.FAKE_LEGAL, "blacklisted"),
    # exaggerated amounts or consequences
    ("明天立即起诉并冻结全部资产", PROHIBITED, Category.EXAGGERATION, "立即起诉"),
    ("我们将冻结你名下所有银行卡", PROHIBITED, Category.EXAGGERATION, "冻结你名下所有银行卡"),
    ("你的子女将来无法考公务员", PROHIBITED, Category.EXAGGERATION, "子女将来无法考公"),
    ("逾期后你永远不能坐飞机高铁", PROHIBITED, Category.EXAGGERATION, "不能坐飞机"),
    (
        "We will garnish your wages next week.",
        PROHIBITED,
        Category.EXAGGERATION,
        "garnish your wages",
    ),
    ("We will seize your house.", PROHIBITED, Category.EXAGGERATION, "seize your house"),
    # false promises
    ("今天还一半就能帮你洗白征信", PROHIBITED, Category.FALSE_PROMISE, "洗白"),
    ("我们有内部渠道可以删除逾期记录", PROHIBITED, Category.FALSE_PROMISE, "内部渠道"),
    (
        "Pay $50 today and we guarantee to remove it from your credit report.",
        PROHIBITED,
        Category.FALSE_PROMISE,
        "guarantee to remove it from your credit",
    ),
    # gang references
    ("我道上的兄弟们会去找你", PROHIBITED, Category.GANG, "兄弟们"),
    ("我们是黑社会出身的", PROHIBITED, Category.GANG, "黑社会"),
    ("My boys will pay you a visit.", PROHIBITED, Category.GANG, "My boys"),
    # public posting / private information
    ("再不还就把你的欠款发到群里", POSTING, Category.PUBLIC_POSTING, "发到群里"),
    ("三天内不还，曝光你的个人信息", POSTING, Category.PUBLIC_POSTING, "曝光"),
    ("我们会打给你通讯录里的所有人", POSTING, Category.PUBLIC_POSTING, "打给你通讯录"),
    ("我们会联系你的单位领导", POSTING, Category.PUBLIC_POSTING, "联系你的单位"),
    (
        "We will post it on Facebook for everyone to see.",
        POSTING,
        Category.PUBLIC_POSTING,
        "post it on facebook",
    ),
    (
        "We will tell your employer about this debt.",
        POSTING,
        Category.PUBLIC_POSTING,
        "tell your employer",
    ),
    # pushing new borrowing
    ("你可以以贷养贷先把这期还了", BORROWING, Category.NEW_BORROWING, "以贷养贷"),
    ("找朋友借点钱先还上", BORROWING, Category.NEW_BORROWING, "找朋友借"),
    ("去其他平台借一笔还我们", BORROWING, Category.NEW_BORROWING, "去其他平台借"),
    ("用信用卡套现也得还", BORROWING, Category.NEW_BORROWING, "信用卡套现"),
    ("Borrow from your family if you have to.", BORROWING, Category.NEW_BORROWING, "Borrow from"),
    (
        "Take out another loan to pay us.",
        BORROWING,
        Category.NEW_BORROWING,
        "Take out another loan",
    ),
    # collection fees
    ("需另付催收费300元", BORROWING, Category.COLLECTION_FEE, "催收费"),
    ("外访费由您承担", BORROWING, Category.COLLECTION_FEE, "外访费"),
    (
        "A collection fee of $50 has been added.",
        BORROWING,
        Category.COLLECTION_FEE,
        "collection fee",
    ),
    # seen in complaints
    ("我们已经联系了你爸妈和你老板", POSTING, Category.PUBLIC_POSTING, "联系了你爸妈"),
    ("你家孩子在哪个学校我们都知道", PROHIBITED, Category.THREAT, "孩子在哪个学校"),
    ("不还就上门", PROHIBITED, Category.THREAT, "不还就上门"),
    ("这笔钱你借也得借来还", BORROWING, Category.NEW_BORROWING, "借也得借来还"),
    ("马上派人去你老家", PROHIBITED, Category.THREAT, "派人去"),
    ("你信用已经破产了", PROHIBITED, Category.EXAGGERATION, "信用已经破产"),
    (
        "We'll make sure everyone at your job knows.",
        POSTING,
        Category.PUBLIC_POSTING,
        "everyone at your job",
    ),
    (
        "Your debt will triple if you don't pay today.",
        PROHIBITED,
        Category.EXAGGERATION,
        "debt will triple",
    ),
    (
        "Pay now or face criminal prosecution.",
        PROHIBITED,
        Category.FAKE_LEGAL,
        "criminal prosecution",
    ),
]

BAD_THIRD_PARTY = [
    ("请转告张伟，他欠款5000元已逾期", "欠款"),
    ("请转告张伟，他欠款5000元已逾期", "5000元"),
    ("请转告张伟，他欠款5000元已逾期", "逾期"),
    ("麻烦告诉他尽快还款", "还款"),
    ("他在我们平台的贷款还没还", "贷款"),
    ("Please tell Alex his loan is overdue.", "loan"),
    ("Please tell Alex his loan is overdue.", "overdue"),
    ("Alex owes us $1,200.", "owes"),
    ("Alex owes us $1,200.", "$1"),
    ("Ask her to call about her debt.", "debt"),
]


def _span(text: str, excerpt: str) -> tuple[int, int]:
    start = text.lower().index(excerpt.lower())
    return start, start + len(excerpt)


@pytest.mark.parametrize("text", CLEAN_DEBTOR)
def test_acceptable_debtor_messages_pass_clean(text: str) -> None:
    assert check_text(text) == []


@pytest.mark.parametrize("text", CLEAN_THIRD_PARTY)
def test_acceptable_third_party_messages_pass_clean(text: str) -> None:
    assert check_text(text, audience="third_party") == []


@pytest.mark.parametrize(("text", "rule_id", "category", "excerpt"), BAD)
def test_forbidden_messages_are_caught_with_rule_and_span(
    text: str, rule_id: str, category: Category, excerpt: str
) -> None:
    found = check_text(text)
    start, end = _span(text, excerpt)
    hits = [v for v in found if v.rule_id == rule_id and v.category == category]
    assert hits, f"{text!r}: expected {rule_id}/{category}, got {found}"
    assert any(v.start == start and v.end == end for v in hits), found
    for v in found:
        assert text[v.start : v.end] == v.excerpt
        assert v.message_zh and v.message_en


@pytest.mark.parametrize(("text", "excerpt"), BAD_THIRD_PARTY)
def test_debt_details_to_a_third_party_are_caught(text: str, excerpt: str) -> None:
    found = [v for v in check_text(text, audience="third_party") if v.rule_id == DISCLOSE]
    start, end = _span(text, excerpt)
    assert any(v.start == start and v.end == end for v in found), found
    assert all(v.category == Category.THIRD_PARTY_DISCLOSURE for v in found)


@pytest.mark.parametrize(("text", "excerpt"), BAD_THIRD_PARTY)
def test_the_same_debt_details_are_fine_for_the_debtor(text: str, excerpt: str) -> None:
    assert [v for v in check_text(text) if v.rule_id == DISCLOSE] == []


def test_corpus_sizes_meet_the_bar() -> None:
    assert len(CLEAN_DEBTOR) + len(CLEAN_THIRD_PARTY) >= 25
    assert len(BAD) + len(BAD_THIRD_PARTY) >= 40
    assert {category for _, _, category, _ in BAD} >= set(Category) - {
        Category.THIRD_PARTY_DISCLOSURE,
        Category.TIME_BARRED,
        Category.OPT_OUT,
    }


# ------------------------------------------------------------------ normalisation


@pytest.mark.parametrize(
    ("text", "excerpt"),
    [
        ("公 安已经找你了", "公 安"),
        ("公-安已经找你了", "公-安"),
        ("公　安已经找你了", "公　安"),  # ideographic space
        ("公\u200b安已经找你了", "公\u200b安"),  # zero-width space
        ("公·安已经找你了", "公·安"),
        ("公🔥安已经找你了", "公🔥安"),
        ("坐 - 牢", "坐 - 牢"),
        ("你上了黑 名 单", "黑 名 单"),
    ],
)
def test_spacing_tricks_in_chinese_are_seen_and_spans_map_to_the_original(
    text: str, excerpt: str
) -> None:
    found = check_text(text, lang="zh")
    start, end = _span(text, excerpt)
    assert any(v.start == start and v.end == end and v.excerpt == excerpt for v in found), found


def test_full_width_latin_and_letter_spacing_are_seen() -> None:
    text = "You will be Ａ Ｒ Ｒ Ｅ Ｓ Ｔ Ｅ Ｄ, and j.a.i.l is next"
    found = check_text(text, lang="en")
    excerpts = {v.excerpt for v in found}
    assert "Ａ Ｒ Ｒ Ｅ Ｓ Ｔ Ｅ Ｄ" in excerpts
    assert "j.a.i.l" in excerpts
    assert check_text("ＳＢ老赖")[0].excerpt == "ＳＢ"


def test_normalisation_keeps_ordinary_separators() -> None:
    assert normalise("Call 400-000-0000 today").text == "call 400-000-0000 today"
    assert normalise("Hello   World").text == "hello world"
    assert normalise("公 安").text == "公安"


@given(st.text(max_size=60))
def test_every_normalised_character_maps_back_into_the_text(text: str) -> None:
    norm = normalise(text)
    assert len(norm.origin) == len(norm.text)
    assert list(norm.origin) == sorted(norm.origin)
    assert all(0 <= i < len(text) for i in norm.origin)


@given(st.text(alphabet="公安坐牢黑名單借钱还拘溜 -·。，abcjuliu", min_size=1, max_size=40))
def test_every_span_is_the_excerpt_of_the_original(text: str) -> None:
    if not text.strip():
        return
    for v in check_text(text):
        assert text[v.start : v.end] == v.excerpt
        assert 0 <= v.start < v.end <= len(text)


# ------------------------------------------------------------------ allow-lists


def test_rights_education_is_allowed_but_a_threat_beside_it_is_not() -> None:
    text = "催收人员不得冒充公检法。明天公安就上门抓你。"
    found = check_text(text)
    assert all(v.start >= text.index("明天") for v in found)
    assert any(v.excerpt == "公安" for v in found)


def test_a_caller_allow_list_suppresses_violations_inside_its_spans() -> None:
    text = "本短信并非律师函，请放心。"
    assert [v.excerpt for v in check_text(text)] == ["律师函"]
    assert check_text(text, allow=AllowList(phrases=("并非律师函",))) == []
    assert check_text(text, allow=AllowList(regexes=(r"(?:并非|不是)律师函",))) == []
    # an allowed span elsewhere does not hide it
    assert check_text(text, allow=AllowList(phrases=("请放心",))) != []


def test_an_allow_list_with_a_bad_regex_is_refused() -> None:
    with pytest.raises(ValidationError):
        AllowList(regexes=("(unclosed",))


def test_english_negated_arrest_is_education() -> None:
    assert check_text("We cannot have you arrested.") == []
    assert check_text("You cannot be arrested for a debt.") == []
    assert check_text("We cannot wait. You will be arrested.") != []


# ------------------------------------------------------------------ context flags


def test_suit_on_a_time_barred_debt_is_flagged_only_when_time_barred() -> None:
    text = "If you do not pay, we may file a lawsuit."
    assert check_text(text) == []
    found = check_text(text, context=CheckContext(time_barred=True))
    assert [(v.rule_id, v.excerpt) for v in found] == [("US.REGF.TIMEBARRED", "lawsuit")]
    zh = check_text("请尽快还款，否则我们将向法院起诉。", context=CheckContext(time_barred=True))
    assert {v.rule_id for v in zh} == {"CN.LIMITATION"}


def test_an_opt_out_is_required_when_asked() -> None:
    ctx = CheckContext(require_opt_out=True)
    text = "Your payment is due tomorrow."
    found = check_text(text, context=ctx)
    assert [(v.rule_id, v.start, v.end) for v in found] == [
        ("US.REGF.OPTOUT", len(text), len(text))
    ]
    assert check_text(text + " Reply STOP to opt out.", context=ctx) == []
    assert check_text("明天是还款日，回T退订", context=ctx) == []


def test_mixed_language_text_is_read_in_both_languages() -> None:
    found = check_text("您好 you will be arrested", lang="zh")
    assert [v.excerpt for v in found] == ["arrested"]


# ------------------------------------------------------------------ templates


def test_placeholders_are_listed_once_in_order() -> None:
    assert placeholders("{name}您好，{amount}，{name}") == ["name", "amount"]


def test_fill_substitutes_once_and_refuses_missing_values() -> None:
    assert fill("{a}-{b}", {"a": "{b}", "b": "x"}).text == "{b}-x"
    with pytest.raises(ValidationError, match="name"):
        fill("{name}您好", {})


def test_a_clean_debtor_template_passes() -> None:
    template = "{name}您好，您的借款本期应还{amount}，还款日{due_date}，请按时还款。"
    assert check_template(template) == []
    assert check_template("Hi {name}, {amount} is due on {due_date}.", lang="en") == []


def test_debt_placeholders_in_a_third_party_template_are_flagged() -> None:
    template = "您好，请转告{name}尽快回电，金额{amount}，逾期{overdue_days}天"
    found = check_template(template, audience="third_party")
    spans = {(v.start, v.end) for v in found if v.rule_id == DISCLOSE}
    for excerpt in ("{amount}", "{overdue_days}", "金额", "逾期"):
        assert _span(template, excerpt) in spans
    assert "{name}" not in {v.excerpt for v in found}


def test_a_violation_inside_a_sample_value_spans_its_placeholder() -> None:
    template = "{name}您好，{note}"
    found = check_template(template, {"note": "再不还就曝光你"})
    assert [(v.rule_id, v.excerpt) for v in found] == [(POSTING, "{note}")]


def test_a_violation_in_template_text_keeps_its_template_span() -> None:
    template = "{name}，你这个老赖，欠{amount}还不还"
    found = check_template(template)
    assert [(v.excerpt, v.start) for v in found] == [("老赖", template.index("老赖"))]


def test_content_rejected_names_rules_but_not_the_text() -> None:
    violations = check_text("张伟你这个老赖")
    error = ContentRejected("template T1", violations)
    assert "CN.LANG.PROHIBITED" in str(error)
    assert "张伟" not in str(error) and "老赖" not in str(error)
    assert error.violations == tuple(violations)


# ------------------------------------------------------------------ lexicon data


def test_a_broken_lexicon_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        parse_lexicon("entries: [{id: x, rule_id: R, category: nope, phrases: [a]}]", "en")
    with pytest.raises(ConfigurationError):
        parse_lexicon("entries: [{id: x, rule_id: R, category: insult, regexes: ['(']}]", "en")
    ok = parse_lexicon("entries: [{id: x, rule_id: R, category: insult, phrases: [bad]}]", "en")
    assert ok.entries[0].pattern.search("so bad") is not None
