"""Rendering a page: the template, the translator and what every page shows."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from forbear.domain.access import can
from forbear.domain.money import format_yuan
from forbear.web.deps import CSRF_FIELD, state_of
from forbear.web.i18n import Translator, request_lang
from forbear.web.sessions import Principal


def yuan(fen: int | None) -> str:
    return "-" if fen is None else "¥" + format_yuan(int(fen))


def page(
    request: Request,
    template: str,
    principal: Principal | None,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    t = Translator(request_lang(request))
    web = state_of(request)
    values: dict[str, Any] = {
        "t": t,
        "lang": t.lang,
        "other_lang": t.other,
        "principal": principal,
        "csrf_field": CSRF_FIELD,
        "csrf_token": principal.csrf_token if principal is not None else None,
        "can": (lambda permission: principal is not None and can(principal.role, permission)),
        "yuan": yuan,
        "today": web.today(),
        "path": request.url.path,
    }
    values.update(context)
    templates = request.app.state.templates
    response: HTMLResponse = templates.TemplateResponse(
        request, template, values, status_code=status_code
    )
    return response
