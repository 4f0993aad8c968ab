"""Templates service on SQLite and PostgreSQL: refused templates are not stored, approved
ones render, a render that would produce a forbidden text is refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection, func, select

from forbear.domain.compliance.content import Category, ContentRejected
from forbear.domain.errors import NotFound, ValidationError
from forbear.services import templates
from forbear.store.templates import MessageTemplate

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
CLEAN = "{name}您好，您的借款本期应还{amount}，还款日{due_date}，请按时还款。{note}"


def _count(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(MessageTemplate)).scalar_one()


def test_a_template_that_fails_the_filter_is_not_stored(connection: Connection) -> None:
    before = _count(connection)
    with pytest.raises(ContentRejected) as caught:
        templates.save_template(
            connection, "R1", "sms", "debtor", "zh", "{name}，再不还钱就曝光你，让你坐牢", now=NOW
        )
    assert {v.rule_id for v in caught.value.violations} == {
        "CN.PUBLIC.NO_POSTING",
        "CN.LANG.PROHIBITED",
    }
    assert _count(connection) == before
    assert templates.list_templates(connection, code="R1") == []


def test_debt_placeholders_are_refused_in_a_third_party_template(connection: Connection) -> None:
    with pytest.raises(ContentRejected) as caught:
        templates.save_template(
            connection, "TP1", "sms", "third_party", "zh", "请转告{name}，尽快处理{amount}", now=NOW
        )
    assert [v.excerpt for v in caught.value.violations] == ["{amount}"]
    assert caught.value.violations[0].category == Category.THIRD_PARTY_DISCLOSURE
    assert templates.list_templates(connection, code="TP1") == []


def test_an_approved_template_renders(connection: Connection) -> None:
    saved = templates.save_template(connection, "R2", "sms", "debtor", "zh", CLEAN, now=NOW)
    assert (saved.version, saved.status, saved.checked_at) == (1, "draft", NOW)
    with pytest.raises(NotFound):
        templates.render(connection, "R2", {})
    templates.approve_template(connection, "R2", now=NOW)
    text = templates.render(
        connection,
        "R2",
        {"name": "张伟", "amount": "860.00元", "due_date": "12月15日", "note": "谢谢。"},
    )
    assert text == "张伟您好，您的借款本期应还860.00元，还款日12月15日，请按时还款。谢谢。"


def test_a_render_that_would_produce_a_forbidden_text_is_refused(connection: Connection) -> None:
    templates.save_template(connection, "R3", "sms", "debtor", "zh", CLEAN, now=NOW)
    templates.approve_template(connection, "R3", now=NOW)
    values = {"name": "张伟", "amount": "860元", "due_date": "明天", "note": "否则立即起诉"}
    with pytest.raises(ContentRejected) as caught:
        templates.render(connection, "R3", values)
    assert "张伟" not in str(caught.value)  # the message carries rule ids, not the text
    assert [v.category for v in caught.value.violations] == [Category.EXAGGERATION]
    with pytest.raises(ValidationError, match="note"):
        templates.render(connection, "R3", {"name": "张伟", "amount": "1元", "due_date": "明天"})


def test_a_third_party_render_with_debt_values_is_refused(connection: Connection) -> None:
    body = "您好，请转告{name}尽快回电{phone}，{message}"
    templates.save_template(connection, "TP2", "sms", "third_party", "zh", body, now=NOW)
    templates.approve_template(connection, "TP2", now=NOW)
    ok = {"name": "张先生", "phone": "400-000-0000", "message": "谢谢。"}
    assert templates.render(connection, "TP2", ok).endswith("谢谢。")
    with pytest.raises(ContentRejected) as caught:
        templates.render(connection, "TP2", ok | {"message": "他欠款5000元"})
    assert {v.rule_id for v in caught.value.violations} == {"CN.3P.NO_DISCLOSE"}


def test_new_versions_and_approval_retire_the_old_one(connection: Connection) -> None:
    templates.save_template(connection, "R4", "sms", "debtor", "zh", "您好，请按时还款。", now=NOW)
    templates.approve_template(connection, "R4", now=NOW)
    second = templates.save_template(
        connection, "R4", "sms", "debtor", "zh", "您好，今天是还款日。", now=NOW
    )
    assert second.version == 2
    assert templates.render(connection, "R4", {}) == "您好，请按时还款。"
    templates.approve_template(connection, "R4", 2, now=NOW)
    assert [t.status for t in templates.list_templates(connection, code="R4")] == [
        "retired",
        "approved",
    ]
    assert templates.render(connection, "R4", {}) == "您好，今天是还款日。"


def test_english_texts_need_an_opt_out(connection: Connection) -> None:
    body = "Hi {name}, your payment of {amount} is due on {due_date}."
    with pytest.raises(ContentRejected) as caught:
        templates.save_template(connection, "E1", "sms", "debtor", "en", body, now=NOW)
    assert [v.rule_id for v in caught.value.violations] == ["US.REGF.OPTOUT"]
    saved = templates.save_template(
        connection, "E1", "sms", "debtor", "en", body + " Reply STOP to opt out.", now=NOW
    )
    assert saved.version == 1


def test_bad_inputs_are_validation_errors(connection: Connection) -> None:
    with pytest.raises(ValidationError, match="channel"):
        templates.save_template(connection, "X", "pigeon", "debtor", "zh", "您好", now=NOW)
    with pytest.raises(ValidationError, match="audience"):
        templates.save_template(connection, "X", "sms", "neighbour", "zh", "您好", now=NOW)
    with pytest.raises(ValidationError, match="body"):
        templates.save_template(connection, "X", "sms", "debtor", "zh", "  ", now=NOW)


def test_a_us_lenders_refusals_carry_the_us_packs_rule_ids(connection: Connection) -> None:
    from forbear.services import lender

    threat = "Pay today or we will tell your employer and your neighbours about this debt."
    with pytest.raises(ContentRejected) as as_cn:
        templates.save_template(connection, "US1", "call", "debtor", "en", threat, now=NOW)
    assert all(v.rule_id.startswith("CN.") for v in as_cn.value.violations)
    lender.set_config(connection, "pack: US\n", source="lender.yaml", actor="test", now=NOW)
    assert templates.lender_pack(connection) == "US"
    with pytest.raises(ContentRejected) as as_us:
        templates.save_template(connection, "US1", "call", "debtor", "en", threat, now=NOW)
    assert as_us.value.violations
    assert all(v.rule_id.startswith("US.") for v in as_us.value.violations)
    assert templates.list_templates(connection, code="US1") == []
