"""The financial-education library over the API (``/api/v1/education/...``): the articles
and one article are public (a signed-in borrower's view is counted as theirs); views per
article need the management view."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from forbear.services import education
from forbear.web import portal_session
from forbear.web.deps import require_any, state_of
from forbear.web.permissions import MANAGEMENT_VIEW
from forbear.web.sessions import Principal

router = APIRouter(tags=["education"])
Manager = Annotated[Principal, Depends(require_any(*MANAGEMENT_VIEW))]
ArticleLang = Literal["zh", "en"]


class ArticleSummary(BaseModel):
    slug: str = Field(examples=["budgeting"])
    lang: ArticleLang
    title: str
    summary: str
    topics: list[str]


class ArticleOut(ArticleSummary):
    body: str = Field(description="Markdown subset: '## ' headings, '- ' items, paragraphs")


def _summary(a: education.Article) -> ArticleSummary:
    return ArticleSummary(
        slug=a.slug, lang=a.lang, title=a.title, summary=a.summary, topics=list(a.topics)
    )


@router.get(
    "/education/articles",
    response_model=list[ArticleSummary],
    tags=["education"],
    summary="The financial-education articles (public)",
)
def articles(lang: Annotated[ArticleLang, Query()] = "zh") -> list[ArticleSummary]:
    return [_summary(a) for a in education.articles(lang)]


@router.get(
    "/education/articles/{slug}",
    response_model=ArticleOut,
    tags=["education"],
    summary="One article (public); the view is counted",
)
def article(
    request: Request,
    slug: Annotated[str, Path(min_length=1, max_length=64)],
    lang: Annotated[ArticleLang, Query()] = "zh",
) -> ArticleOut:
    web = state_of(request)
    found = education.article(slug, lang)
    session = portal_session.borrower_of(request)
    with web.forbear.transaction() as conn:
        education.record_view(
            conn, slug, session.borrower_id if session else None, web.now(), lang=lang
        )
    return ArticleOut(**_summary(found).model_dump(), body=found.body)


class ViewCount(BaseModel):
    slug: str
    views: int


@router.get(
    "/education/views",
    response_model=list[ViewCount],
    tags=["education"],
    summary="Views per article (management view)",
)
def views(request: Request, principal: Manager) -> list[ViewCount]:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        counts = education.view_counts(conn)
    return [ViewCount(slug=s, views=n) for s, n in counts.items()]
