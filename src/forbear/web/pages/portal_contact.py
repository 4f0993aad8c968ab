"""The borrower portal's pages about contact: a complaint, stopping a channel, the contact
history, the borrower's rights and the education articles (the rights and the articles
are open to anyone). Sign-in and the debt are :mod:`.portal`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from forbear.domain.complaints import ComplaintCategory
from forbear.domain.errors import ValidationError
from forbear.services import contacts as contact_service
from forbear.services import education
from forbear.services import portal as svc
from forbear.web.deps import WebState, state_of
from forbear.web.i18n import Translator, request_lang
from forbear.web.pages.portal_parts import (
    act,
    loan_id_of,
    redirect_sign_in,
    render,
)
from forbear.web.portal_session import (
    borrower_of,
)

router = APIRouter()
COMPLAINT_CATEGORIES = tuple(c.value for c in ComplaintCategory)


# ---------------------------------------------------------------------------- complain


@router.get("/portal/complain")
def complain_page(request: Request, done: str | None = None) -> Response:
    session = borrower_of(request)
    if session is None:
        return redirect_sign_in()
    web = state_of(request)
    with web.forbear.transaction() as conn:
        loans = svc.loans_of(conn, session.borrower_id)
    return render(
        request,
        "portal/complain.html",
        session,
        loans=loans,
        categories=COMPLAINT_CATEGORIES,
        done=done,
    )


@router.post("/portal/complain")
def complain(
    request: Request,
    category: Annotated[str, Form(max_length=40)] = "",
    description: Annotated[str, Form(max_length=4000)] = "",
    loan_id: Annotated[str, Form(max_length=12)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    def work(session: svc.BorrowerSession, web: WebState) -> Response:
        loan: int | None = None
        if loan_id.strip():
            if not loan_id.strip().isdigit():
                raise ValidationError("loan_id", "a loan of yours")
            loan = loan_id_of(loan_id)
        with web.forbear.transaction() as conn:
            svc.complain(
                conn,
                web.forbear.vault,
                borrower_id=session.borrower_id,
                loan_id=loan,
                category=category,
                description=description,
                now=web.now(),
            )
        return RedirectResponse("/portal/complain?done=1", 303)

    return act(request, csrf_token, work)


# ---------------------------------------------------------------------------- contact


@router.get("/portal/preferences")
def preferences_page(request: Request, done: str | None = None) -> Response:
    session = borrower_of(request)
    if session is None:
        return redirect_sign_in()
    web = state_of(request)
    with web.forbear.transaction() as conn:
        stopped = svc.opted_out(conn, session.borrower_id)
    return render(
        request,
        "portal/preferences.html",
        session,
        channels=[c.value for c in svc.OPT_OUT_CHANNELS],
        stopped=stopped,
        done=done,
    )


@router.post("/portal/preferences")
def opt_out(
    request: Request,
    channel: Annotated[str, Form(max_length=20)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    def work(session: svc.BorrowerSession, web: WebState) -> Response:
        with web.forbear.transaction() as conn:
            svc.opt_out(conn, borrower_id=session.borrower_id, channel=channel, now=web.now())
        return RedirectResponse("/portal/preferences?done=1", 303)

    return act(request, csrf_token, work)


@router.get("/portal/contacts")
def contacts_page(request: Request) -> Response:
    session = borrower_of(request)
    if session is None:
        return redirect_sign_in()
    web = state_of(request)
    zone = web.forbear.settings.zone
    with web.forbear.transaction() as conn:
        history = svc.contact_history(conn, session.borrower_id)
    rows = [(h.at.astimezone(zone).strftime("%Y-%m-%d %H:%M"), h) for h in history]
    return render(request, "portal/contacts.html", session, rows=rows)


@router.get("/portal/rights")
def rights_page(request: Request) -> Response:
    session = borrower_of(request)
    web = state_of(request)
    with web.forbear.transaction() as conn:
        rules = contact_service.lender_rules(web.forbear.settings.data_dir, conn)
    return render(request, "portal/rights.html", session, rights=svc.rights(rules))


# ---------------------------------------------------------------------------- learn


@router.get("/portal/learn")
def learn(request: Request) -> Response:
    session = borrower_of(request)
    t = Translator(request_lang(request))
    items = education.articles("en" if t.lang == "en" else "zh")
    return render(request, "portal/learn.html", session, articles=items)


@router.get("/portal/learn/{slug}")
def article_page(request: Request, slug: str) -> Response:
    session = borrower_of(request)
    web = state_of(request)
    t = Translator(request_lang(request))
    lang = "en" if t.lang == "en" else "zh"
    if slug not in education.slugs():
        return render(
            request,
            "portal/error.html",
            session,
            status_code=404,
            message=t("portal.error.no_article"),
        )
    item = education.article(slug, lang)
    with web.forbear.transaction() as conn:
        education.record_view(
            conn, slug, session.borrower_id if session else None, web.now(), lang=lang
        )
    return render(request, "portal/article.html", session, article=item)
