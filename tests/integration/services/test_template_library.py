"""The shipped templates: every code the default strategy uses, all through the filter."""

from __future__ import annotations

from sqlalchemy import Connection

from clocks import SETUP_AT
from forbear.domain.compliance.content import check_template
from forbear.domain.strategy import default_strategy, default_text
from forbear.services import templates


def test_every_shipped_template_passes_the_content_filter() -> None:
    for entry in templates.library():
        found = check_template(entry["body"], lang="zh", audience="debtor")
        assert found == [], (entry["code"], [(v.rule_id, v.excerpt) for v in found])


def test_the_default_strategy_validates_against_the_shipped_templates() -> None:
    codes = {entry["code"] for entry in templates.library()}
    default_strategy(known_templates=codes)  # refuses an unknown code with file/line/key
    assert "CN.PLAN.REMIND" in codes
    assert all(code in default_text() or code == "CN.PLAN.REMIND" for code in codes)


def test_installing_the_library_is_idempotent_and_renders(connection: Connection) -> None:
    first = templates.install_library(connection, now=SETUP_AT)
    assert len(first) == len(templates.library())
    assert templates.install_library(connection, now=SETUP_AT) == []
    text = templates.render(
        connection,
        "CN.PREDUE.SMS",
        {"name": "张*", "amount": "1,100.16", "due_date": "12月15日", "hotline": "400-000-0000"},
    )
    assert "1,100.16" in text and "{" not in text
