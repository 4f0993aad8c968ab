"""Financial-education articles: the shipped library, view counts, suggestions.

The articles are package data (``forbear/services/education_library/<slug>.yaml``), each
in Chinese and English (title, summary, body in a small Markdown subset: ``## `` headings,
``- `` list items, paragraphs), written for this project. Every text passes the content
filter for a debtor audience (:func:`violations` is empty: a test checks), so the
strategy and the workbench may attach an article to any message.

:func:`suggest` picks the articles that fit an account (its ACCOUNT-frame row), for the
strategy and the workbench; :func:`record_view` counts a view (audited ``education.view``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml
from sqlalchemy import Connection, func, insert, select

from forbear.domain.compliance.content import check_text
from forbear.domain.errors import NotFound, ValidationError
from forbear.store import audit
from forbear.store.portal import ArticleView

ArticleLang = Literal["zh", "en"]
LANGS: tuple[ArticleLang, ...] = ("zh", "en")
LIBRARY = "forbear.services.education_library"

BUDGETING = "budgeting"
INTEREST = "interest-and-penalty"
CREDIT = "credit-records"
RIGHTS = "rights-in-collection"
PLANS = "repayment-plans"


@dataclass(frozen=True, slots=True)
class Block:
    """One piece of an article's body: a heading, a paragraph or a list."""

    kind: Literal["heading", "paragraph", "list"]
    text: str = ""
    items: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Article:
    slug: str
    lang: ArticleLang
    title: str
    summary: str
    topics: tuple[str, ...]
    body: str
    blocks: tuple[Block, ...]

    def full_text(self) -> str:
        return "\n".join((self.title, self.summary, self.body))


def _lang(lang: str) -> ArticleLang:
    if lang in ("zh", "zh-CN"):
        return "zh"
    if lang == "en":
        return "en"
    raise ValidationError("lang", f"one of zh, en (got {lang[:10]!r})")


def parse_body(body: str) -> tuple[Block, ...]:
    """The Markdown subset of the library: ``## `` headings, ``- `` items, paragraphs."""
    blocks: list[Block] = []
    items: list[str] = []
    for raw in [*body.splitlines(), ""]:
        line = raw.strip()
        if line.startswith("- "):
            items.append(line[2:].strip())
            continue
        if items:
            blocks.append(Block("list", items=tuple(items)))
            items = []
        if not line:
            continue
        if line.startswith("## "):
            blocks.append(Block("heading", text=line[3:].strip()))
        else:
            blocks.append(Block("paragraph", text=line))
    return tuple(blocks)


def _parse(name: str, text: str) -> dict[ArticleLang, Article]:
    raw: Any = yaml.safe_load(text)
    if not isinstance(raw, dict) or not isinstance(raw.get("slug"), str):
        raise ValidationError(name, "an article needs a slug")
    slug = str(raw["slug"])
    topics = tuple(str(t) for t in raw.get("topics") or ())
    found: dict[ArticleLang, Article] = {}
    for lang in LANGS:
        part = raw.get(lang)
        if not isinstance(part, dict) or not all(
            isinstance(part.get(k), str) and part[k].strip() for k in ("title", "summary", "body")
        ):
            raise ValidationError(name, f"{lang}: title, summary and body are required")
        body = str(part["body"]).strip()
        found[lang] = Article(
            slug,
            lang,
            str(part["title"]).strip(),
            str(part["summary"]).strip(),
            topics,
            body,
            parse_body(body),
        )
    return found


@cache
def _library() -> dict[str, dict[ArticleLang, Article]]:
    found: dict[str, dict[ArticleLang, Article]] = {}
    folder = resources.files(LIBRARY)
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            parsed = _parse(entry.name, entry.read_text(encoding="utf-8"))
            slug = next(iter(parsed.values())).slug
            if slug in found:
                raise ValidationError(entry.name, f"slug {slug!r} defined twice")
            found[slug] = parsed
    return found


ORDER = (RIGHTS, INTEREST, PLANS, CREDIT, BUDGETING)


def slugs() -> list[str]:
    """Every article's slug, in reading order (rights first)."""
    library = _library()
    return [s for s in ORDER if s in library] + sorted(s for s in library if s not in ORDER)


def articles(lang: str) -> list[Article]:
    """Every article in ``lang`` (``zh`` or ``en``), in reading order."""
    chosen = _lang(lang)
    library = _library()
    return [library[s][chosen] for s in slugs()]


def article(slug: str, lang: str) -> Article:
    """One article; :class:`NotFound` for an unknown slug."""
    chosen = _lang(lang)
    found = _library().get(slug)
    if found is None:
        raise NotFound("article", slug[:64])
    return found[chosen]


def violations() -> list[str]:
    """``slug/lang: rule`` for every passage of the library the content filter refuses."""
    problems = []
    for slug, by_lang in _library().items():
        for lang, item in by_lang.items():
            for v in check_text(item.full_text(), lang=lang, audience="debtor"):
                problems.append(f"{slug}/{lang}: {v.rule_id} {v.excerpt!r}")
    return problems


def record_view(
    conn: Connection,
    slug: str,
    borrower_id: int | None,
    now: datetime,
    *,
    lang: str = "zh",
) -> int:
    """Count one view of ``slug`` (by ``borrower_id`` when signed in); audited
    ``education.view``. Returns the view's id."""
    chosen = _lang(lang)
    article(slug, chosen)
    if now.tzinfo is None:
        raise ValidationError("now", "must carry a time zone")
    view_id = conn.execute(
        insert(ArticleView)
        .values(slug=slug, lang=chosen, borrower_id=borrower_id, viewed_at=now)
        .returning(ArticleView.id)
    ).scalar_one()
    audit.record(
        conn,
        action="education.view",
        actor="portal:anonymous" if borrower_id is None else f"portal:borrower:{borrower_id}",
        subject_type="article",
        subject_id=slug,
        payload={"lang": chosen, "view_id": int(view_id)},
    )
    return int(view_id)


def view_counts(conn: Connection, since: datetime | None = None) -> dict[str, int]:
    """Views per article (every article present, zero when never read)."""
    stmt = select(ArticleView.slug, func.count()).group_by(ArticleView.slug)
    if since is not None:
        stmt = stmt.where(ArticleView.viewed_at >= since)
    counted = {str(slug): int(n) for slug, n in conn.execute(stmt).all()}
    return {s: counted.get(s, 0) for s in slugs()}


def suggest(account_row: Mapping[str, Any]) -> list[str]:
    """The articles that fit an account, most useful first, from its ACCOUNT-frame row
    (``dpd``, ``overdue_penalty``, ``hardship_flag`` / ``vulnerable``, ``active_plan``,
    ``broken_promises_90d``, ``dispute``); missing keys count as absent. A current account
    gets the budgeting article; everyone gets their rights when overdue."""

    def number(key: str) -> int:
        value = account_row.get(key)
        return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0

    def flag(*keys: str) -> bool:
        return any(bool(account_row.get(k)) for k in keys)

    dpd = number("dpd")
    chosen: list[str] = []
    if dpd > 0 or flag("dispute"):
        chosen.append(RIGHTS)
    if flag("hardship_flag", "hardship", "vulnerable"):
        chosen += [PLANS, BUDGETING]
    if dpd > 0 and (number("overdue_penalty") > 0 or flag("dispute")):
        chosen.append(INTEREST)
    if dpd >= 30 and not flag("active_plan"):
        chosen.append(PLANS)
    if dpd >= 30:
        chosen.append(CREDIT)
    if number("broken_promises_90d") > 0 or flag("active_plan") or dpd == 0:
        chosen.append(BUDGETING)
    if 0 < dpd < 30 and INTEREST not in chosen:
        chosen.append(INTEREST)
    unique = list(dict.fromkeys(chosen))
    return [s for s in unique if s in _library()]
