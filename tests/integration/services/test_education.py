"""The financial-education library: every article in both languages, clean under the
content filter; views counted and audited on SQLite and PostgreSQL; suggestions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection, func, select

from forbear.domain.compliance.content import check_text
from forbear.domain.errors import NotFound, ValidationError
from forbear.services import education
from forbear.store.audit import AuditEvent
from forbear.store.portal import ArticleView

NOW = datetime(2026, 4, 20, 3, 0, tzinfo=UTC)
TOPICS = {
    "budgeting",
    "interest-and-penalty",
    "credit-records",
    "rights-in-collection",
    "repayment-plans",
}


def test_the_library_has_the_five_topics_in_both_languages() -> None:
    assert set(education.slugs()) == TOPICS
    for lang in ("zh", "en"):
        items = education.articles(lang)
        assert [a.slug for a in items] == education.slugs()
        for item in items:
            assert item.title and item.summary and item.blocks
            assert any(b.kind == "heading" for b in item.blocks)
    zh = education.article("budgeting", "zh-CN")
    assert any("\u4e00" <= c <= "\u9fff" for c in zh.title)
    assert education.article("budgeting", "en").title.isascii()


def test_every_article_passes_the_content_filter() -> None:
    assert education.violations() == []
    for lang in ("zh", "en"):
        for item in education.articles(lang):
            assert check_text(item.full_text(), lang=lang, audience="debtor") == []


def test_the_filter_would_catch_a_threat_in_an_article() -> None:
    # the check above is not vacuous: the same filter refuses a threatening sentence
    assert check_text("不还钱就通知你的单位和家人", lang="zh", audience="debtor") != []


def test_the_rights_article_names_the_hotline_and_the_contact_hours() -> None:
    for lang in ("zh", "en"):
        text = education.article("rights-in-collection", lang).full_text()
        assert "12378" in text and "08:00" in text and "21:00" in text


def test_unknown_articles_and_languages_are_refused() -> None:
    with pytest.raises(NotFound):
        education.article("get-rich-quick", "zh")
    with pytest.raises(ValidationError):
        education.articles("fr")


def test_the_markdown_subset_is_parsed_into_blocks() -> None:
    blocks = education.parse_body("## Title\nFirst.\n\n- one\n- two\nAfter.")
    assert [(b.kind, b.text, b.items) for b in blocks] == [
        ("heading", "Title", ()),
        ("paragraph", "First.", ()),
        ("list", "", ("one", "two")),
        ("paragraph", "After.", ()),
    ]


def test_views_are_counted_and_audited(connection: Connection) -> None:
    education.record_view(connection, "budgeting", None, NOW)
    education.record_view(connection, "budgeting", None, NOW, lang="en")
    education.record_view(connection, "credit-records", None, NOW)
    counts = education.view_counts(connection)
    assert counts["budgeting"] == 2 and counts["credit-records"] == 1
    assert counts["repayment-plans"] == 0
    events = connection.execute(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "education.view")
    ).scalar_one()
    assert events == 3


def test_a_view_of_an_unknown_article_writes_nothing(connection: Connection) -> None:
    with pytest.raises(NotFound):
        education.record_view(connection, "nope", None, NOW)
    with pytest.raises(ValidationError):
        education.record_view(connection, "budgeting", None, NOW.replace(tzinfo=None))
    assert connection.execute(select(func.count()).select_from(ArticleView)).scalar_one() == 0


@pytest.mark.parametrize(
    ("row", "first", "includes", "excludes"),
    [
        ({"dpd": 0}, "budgeting", {"budgeting"}, {"credit-records", "rights-in-collection"}),
        (
            {"dpd": 10, "overdue_penalty": 500},
            "rights-in-collection",
            {"interest-and-penalty"},
            {"credit-records"},
        ),
        ({"dpd": 45}, "rights-in-collection", {"repayment-plans", "credit-records"}, set()),
        (
            {"dpd": 45, "active_plan": True},
            "rights-in-collection",
            {"budgeting"},
            {"repayment-plans"},
        ),
        (
            {"dpd": 5, "vulnerable": True},
            "rights-in-collection",
            {"repayment-plans", "budgeting"},
            set(),
        ),
        ({}, "budgeting", {"budgeting"}, set()),
    ],
)
def test_suggestions_fit_the_account(
    row: dict[str, object], first: str, includes: set[str], excludes: set[str]
) -> None:
    found = education.suggest(row)
    assert found[0] == first
    assert includes <= set(found) and not excludes & set(found)
    assert len(found) == len(set(found)) and set(found) <= TOPICS
