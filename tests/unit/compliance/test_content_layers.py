"""The content filter's layers (issue 17): normalisation (Traditional, interleaved
punctuation), the pinyin layer (homophones, near-characters, romanised Chinese), the
semantic layer (paraphrases, on the shared encoder), the legal-facts allow-list, pack rule
ids, unreadable texts refused, and the corpus evaluation. Texts here are NOT corpus lines:
each layer is tried on variants it was not tuned on."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import yaml

from forbear.domain.compliance.content import (
    MAX_TEXT_CHARS,
    PACK_RULES,
    Category,
    CheckContext,
    ContentUnreadable,
    check_template,
    check_text,
    normalise,
)
from forbear.domain.compliance.content.corpus import Item, evaluate, load, packaged
from forbear.domain.compliance.content.semantic import (
    _verdicts,
    default_encoder,
    packaged_model,
    sentence_key,
    sentences,
    staleness,
)
from forbear.domain.errors import ValidationError

PACKS = Path(__file__).parents[3] / "src/forbear/domain/compliance/packs"


def found(text: str, **kw: object) -> list[tuple[str, str, str]]:
    """(category, excerpt, layer) of every finding; excerpts must be the original text."""
    out = []
    for v in check_text(text, **kw):  # type: ignore[arg-type]
        assert text[v.start : v.end] == v.excerpt
        out.append((v.category.value, v.excerpt, v.layer))
    return out


# ------------------------------------------------------------------ normalisation


def test_traditional_characters_read_as_simplified_with_original_spans() -> None:
    text = "您已被列入黑名單，當心被拘留。"
    assert normalise(text).text.startswith("您已被列入黑名单")
    hits = found(text)
    assert ("fake_legal", "黑名單", "lexicon") in hits
    assert ("fake_legal", "拘留", "lexicon") in hits
    assert found("再不還錢，我們就派人過去。")[0][0] == "threat"


def test_punctuation_interleaved_between_characters_is_read_through() -> None:
    text = "准备好坐。牢。吧"
    assert "坐牢" in normalise(text).text
    assert ("fake_legal", "坐。牢", "lexicon") in found(text)
    # an ordinary list keeps its marks: nothing is glued across "、"
    assert normalise("姓名、电话、地址").text == "姓名、电话、地址"


def test_emoji_and_zero_width_between_characters_are_read_through() -> None:
    assert [h[0] for h in found("你是个老\u200b🙂赖")] == ["insult"]


# ------------------------------------------------------------------ pinyin layer


@pytest.mark.parametrize(
    ("text", "category", "excerpt"),
    [
        ("这样拖下去是要判形的", "fake_legal", "判形"),  # 判刑: near-character
        ("小心把你抓去做牢", "fake_legal", "做牢"),  # 坐牢: 牢 in place, 做 sounds like 坐
        ("ni zai tuo jiu deng zhe qiao ba", "threat", "deng zhe qiao"),  # romanised
        ("wo men hui fa dao qun li", "public_posting", "fa dao qun li"),
        ("我们要把你的事爆光", "public_posting", "爆光"),  # 曝光
    ],
)
def test_homophones_and_romanised_chinese_are_heard(text: str, category: str, excerpt: str) -> None:
    assert (category, excerpt, "pinyin") in found(text)


@pytest.mark.parametrize(
    "text",
    [
        "根据统计，您本月已还款两次。",  # 统计 tong ji is not 通缉
        "经查，您的账户已结清。",  # 经查 is not 警察
        "收入与支出要分开记账。",  # 入与 is not 入狱
        "Please ring me back when you can.",  # English is not pinyin
        "您好，请问您现在方便接电话吗？",
    ],
)
def test_ordinary_words_that_sound_alike_are_not_heard_as_forbidden(text: str) -> None:
    assert [h for h in found(text) if h[2] == "pinyin"] == []


# ------------------------------------------------------------------ semantic layer


def test_the_packaged_model_is_fitted_on_the_current_train_split() -> None:
    model = packaged_model()
    assert staleness(model) is None, staleness(model)
    assert model.meta["trained_on"] == "corpus/train.yaml"
    assert "clean" in model.classes and 0.5 <= model.threshold < 1
    # one threshold per language, and a prototype vote with both kinds of text
    assert set(model.thresholds) == {"zh", "en"}
    assert all(0.5 <= t <= 0.95 for t in model.thresholds.values())
    assert model.prototype_forbidden.any() and not model.prototype_forbidden.all()
    assert len(model.prototypes) == len(model.prototype_forbidden)
    assert model.meta["texts"] + model.meta["clean_sentences"] == len(model.prototypes)


def test_a_sentence_is_held_to_its_own_languages_threshold() -> None:
    model = packaged_model()
    polite = ["您好，本期账单已出，请于25日前还款。", "We can set up a plan that fits your budget."]
    embeddings = default_encoder().encode([sentence_key(t) for t in polite])
    scores = model.scores(embeddings)
    assert ((scores >= 0) & (scores <= 1)).all()
    verdicts = model.verdicts(embeddings, ["zh", "en"])
    assert [v[0] for v in verdicts] == [None, None]
    # a score is judged by the threshold of the sentence's language: the packaged model
    # with its thresholds moved either side of the first polite score
    edge = float(scores[0])
    split = dataclasses.replace(model, thresholds={"zh": edge - 1e-6, "en": edge + 1e-3})
    assert split.verdicts(embeddings[:1], ["zh"])[0][0] is not None
    assert split.verdicts(embeddings[:1], ["en"])[0][0] is None


def test_sentences_skip_headings_and_fragments() -> None:
    text = "## 标题\n- 请按时还款，谢谢您的配合。\nOK. We can set up a plan for you."
    assert [text[s:e] for s, e in sentences(text)] == [
        "请按时还款，谢谢您的配合。",
        "We can set up a plan for you.",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "你家门口那条路晚上挺黑的，走路小心点。",
        "Your kids walk home alone, don't they?",
        "It would be a shame if your family got hurt.",
    ],
)
def test_a_veiled_threat_without_listed_words_is_caught_by_meaning(text: str) -> None:
    # Unseen variants (of 12 tried when this test was written, the layer caught 6: its
    # threshold keeps polite text safe at the cost of recall; docs/compliance.md).
    assert found(text) == []  # no listed word: the cheap layers see nothing
    hits = found(text, semantic=True)
    assert any(h[2] == "semantic" for h in hits), hits
    assert _verdicts  # cached: a second check does not embed again
    before = len(_verdicts)
    found(text, semantic=True)
    assert len(_verdicts) == before


@pytest.mark.parametrize(
    "text",
    [
        "您好，本期账单已出，请于25日前还款，感谢您的支持。",
        "We'd be happy to set up a plan that fits your budget. Call us any time.",
        "如协商不成，我司将通过诉讼途径解决，具体以法院判决为准。",
    ],
)
def test_polite_messages_pass_every_layer(text: str) -> None:
    assert found(text, semantic=True) == []


# ------------------------------------------------------------------ legal facts


@pytest.mark.parametrize(
    "text",
    [
        "若协商不成，我司将依法起诉，以法院判决为准。",
        "如双方无法达成一致，本公司有权依法向有管辖权的人民法院起诉，最终由法院判决。",
        "If we cannot agree, the court will decide how much is owed.",
    ],
)
def test_lawful_statements_of_process_pass(text: str) -> None:
    assert found(text) == []


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("若协商不成，我司将依法起诉，以法院判决为准，法院明天就来抓你。", "fake_legal"),
        ("我是法院工作人员，以法院判决为准。", "impersonation"),
        ("法院判决你坐牢。", "fake_legal"),
    ],
)
def test_the_legal_allow_list_does_not_pass_threats_beside_it(text: str, category: str) -> None:
    assert category in {h[0] for h in found(text)}


@pytest.mark.parametrize(
    "text",
    [
        "We may sue you. Frankly, you'll end up in jail.",
        "若协商不成，我司将依法起诉。法院明天就来抓你。",
        "The court will decide. Until then we will call your boss every day.",
    ],
)
def test_an_allowed_clause_ends_with_its_sentence(text: str) -> None:
    # the normaliser keeps a full stop that ends a sentence, so a lawful clause's span
    # never reaches into the next sentence
    assert found(text), text


@pytest.mark.parametrize(
    "text",
    [
        "我们不会联系您的家人，也不会告诉您的同事。",
        "提醒：不要为了还这笔钱去借高利贷。",
        "如遇自称法院工作人员要求转账的，请拨打110。",
        "以贷养贷只会让欠款越来越多，有困难请先联系我们。",
        "Please do not borrow from friends or payday lenders to pay us.",
        "We will never call your family or friends.",
        "Anyone claiming to be a sheriff and asking for payment is not from us.",
        "A lawsuit has been filed against you in Travis County Court; you may respond.",
        "我司已依法向某某区人民法院提起诉讼，请以法院送达的传票为准。",
    ],
)
def test_negated_acts_scam_warnings_and_filed_suits_pass(text: str) -> None:
    assert found(text) == [], text


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("不要以为我们不敢去你单位闹。", "threat"),
        ("不要逼我们联系你的家人。", "public_posting"),
        ("你不会想让我们告诉你老板吧？", "public_posting"),
        ("我们不会联系你的家人，但会去你公司闹。", "threat"),
        ("Don't make us call your employer.", "public_posting"),
        ("We won't stop calling your family until you pay.", "public_posting"),
        ("We don't want to call your boss, but we will.", "public_posting"),
        ("We will not hesitate to contact your employer.", "public_posting"),
    ],
)
def test_threats_that_open_with_a_negation_still_count(text: str, category: str) -> None:
    assert category in {h[0] for h in found(text)}, text


@pytest.mark.parametrize(
    ("text", "category", "layer"),
    [
        ("你同事要是听说你欠了网贷，会怎么看你？", "public_posting", "lexicon"),
        ("你公司老板的微信我们已经拿到了。", "public_posting", "lexicon"),
        ("我们会把你的欠条贴满你们单位的走廊。", "public_posting", "lexicon"),
        ("先用美团月付把这期平了吧。", "new_borrowing", "lexicon"),
        ("跟你姐姐开个口，借一下先把账还上。", "new_borrowing", "lexicon"),
        ("你老公每天几点下班，我们门儿清。", "threat", "lexicon"),
        ("我们会告述你领导你欠钱的事。", "public_posting", "pinyin"),
        ("ni jia ren hui chu shi de", "threat", "pinyin"),
        ("Your manager would love to hear how you handle money.", "public_posting", "lexicon"),
        ("We'll be contacting your HR team about the loan today.", "public_posting", "lexicon"),
        ("Your cousin could lend you the money this week.", "new_borrowing", "lexicon"),
        ("This is Sergeant Miller calling about your account.", "impersonation", "lexicon"),
        ("We know what time your husband gets home.", "threat", "lexicon"),
    ],
)
def test_exposure_borrowing_and_threat_classes_are_read(
    text: str, category: str, layer: str
) -> None:
    # variants written for this test, not corpus lines
    assert any(h[0] == category and h[2] == layer for h in found(text)), found(text)


def test_legal_facts_never_excuse_suit_on_a_time_barred_debt() -> None:
    text = "若协商不成，我司将依法起诉，以法院判决为准。"
    barred = check_text(text, context=CheckContext(time_barred=True))
    assert {v.rule_id for v in barred} == {"CN.LIMITATION"}


# ------------------------------------------------------------------ pack rule ids


def test_a_us_lender_gets_us_rule_ids() -> None:
    text = "We know where you live. Borrow from your family and pay up, deadbeat."
    us = {(v.category, v.rule_id) for v in check_text(text, context=CheckContext(pack="US"))}
    assert (Category.THREAT, "US.REGF.HARASS") in us
    assert (Category.INSULT, "US.REGF.HARASS") in us
    assert (Category.NEW_BORROWING, "US.LANG.NO_NEW_BORROWING") in us
    cn = {v.rule_id for v in check_text(text)}
    assert cn == {"CN.LANG.PROHIBITED", "CN.LANG.NO_NEW_BORROWING"}
    third = check_template(
        "Tell {name} the debt of {amount} is due",
        audience="third_party",
        context=CheckContext(pack="US"),
        semantic=False,
    )
    assert {v.rule_id for v in third} == {"US.REGF.THIRD_PARTY"}


def test_every_pack_rule_id_exists_in_its_pack() -> None:
    for pack, mapping in PACK_RULES.items():
        ids = {r["id"] for r in yaml.safe_load((PACKS / f"{pack}.yaml").read_text())["rules"]}
        ids |= {"CN.LIMITATION", "US.REGF.OPTOUT"} & set(mapping.values())
        assert set(mapping.values()) <= ids, (pack, set(mapping.values()) - ids)


def test_an_unknown_pack_is_refused() -> None:
    with pytest.raises(ContentUnreadable, match="unknown rule pack"):
        check_text("hello there", context=CheckContext(pack="XX"))


# ------------------------------------------------------------------ unreadable texts


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   \n\t ", "empty"),
        ("\u200b\u200b", "no readable characters"),
        ("\x00\x01\x02", "control character U+0000 at position 0"),
        ("您好\x07请还款", "control character U+0007 at position 2"),
        ("ok \ud800 ok", "unpaired surrogate"),
        ("a" * (MAX_TEXT_CHARS + 1), "longer than"),
    ],
)
def test_unreadable_texts_are_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(ContentUnreadable, match=re.escape(reason)) as caught:
        check_text(text)
    assert isinstance(caught.value, ValidationError)
    with pytest.raises(ContentUnreadable):
        check_template(text, semantic=False)


def test_tabs_and_new_lines_are_text() -> None:
    assert check_text("您好，\n\t请按时还款。\r\n谢谢") == []


# ------------------------------------------------------------------ corpus and evaluation


def test_the_corpus_splits_load_and_do_not_share_texts() -> None:
    train, held = load(packaged("train")), load(packaged("eval"))
    second, third = load(packaged("eval2")), load(packaged("eval3"))
    assert len(train) >= 400 and len(held) >= 80 and len(second) >= 120 and len(third) >= 48
    texts = [{i.text for i in split} for split in (train, held, second, third)]
    for a in range(len(texts)):
        for b in range(a + 1, len(texts)):
            assert not texts[a] & texts[b], (a, b, texts[a] & texts[b])
    for items in (train, held, second, third):
        assert {i.lang for i in items} == {"zh", "en"}
        assert sum(not i.violating for i in items) >= 24
    assert sum(i.violating for i in second) >= 60 and sum(not i.violating for i in second) >= 60


def test_a_malformed_corpus_names_the_line_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "c.yaml"
    bad.write_text(
        "items:\n  - {text: hi, lang: zh, label: clean}\n  - {text: x, lang: fr, label: clean}\n"
    )
    with pytest.raises(ValidationError, match=r"line 3 .*'lang'"):
        load(bad)
    bad.write_text("items:\n  - {text: hi, lang: zh, label: rude}\n")
    with pytest.raises(ValidationError, match="'label'"):
        load(bad)


def test_evaluate_counts_per_layer_and_language() -> None:
    items = [
        Item("你这个老赖", "zh", "insult", "plain", 1),
        Item("再不换钱小心被拘溜", "zh", "fake_legal", "homophone", 2),
        Item("您好，请按时还款。", "zh", "clean", "reminder", 3),
        Item("You deadbeat.", "en", "insult", "plain", 4),
        Item("Please call us back.", "en", "clean", "reminder", 5),
        Item("We're thinking of you.", "en", "threat", "veiled", 6),
    ]
    report = evaluate(items, lambda i: check_text(i.text, lang=i.lang))
    assert (report.overall.true_positive, report.overall.false_negative) == (3, 1)
    assert report.overall.false_positive == 0 and report.polite == 2
    assert report.by_layer["lexicon"].true_positive == 2
    assert report.by_layer["pinyin"].true_positive == 1
    assert report.by_language["en"].recall == 0.5
    assert [m.line for m in report.misses] == [6]


def test_the_repos_own_polite_texts_pass_every_layer() -> None:
    """Every script line (zh and en) and every education article: real polite texts the
    filter must never refuse (the shipped templates: test_template_library.py)."""
    from forbear.domain.scripts import default_scripts
    from forbear.services import education

    flagged = []
    for line in default_scripts():
        for lang, body in (("zh", line.zh), ("en", line.en)):
            if found := check_template(body, lang=lang):  # type: ignore[arg-type]
                flagged.append((line.id, lang, [(v.layer, v.excerpt) for v in found]))
    for lang in ("zh", "en"):
        for article in education.articles(lang):
            if found := check_text(article.full_text(), lang=lang, semantic=True):  # type: ignore[arg-type]
                flagged.append((article.slug, lang, [(v.layer, v.excerpt) for v in found]))
    assert flagged == []
