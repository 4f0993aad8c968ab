"""What every page of the compliance console shares: its sections, the permissions of its
readers and workers, parsing form values, and rendering a page with the section menu.
(:mod:`.complaints` holds the complaints and the case library, :mod:`.compliance` the
blocked contacts, the rules in force, the audit trail, template review and unmask alerts.)
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import Response

from forbear.domain.access import can
from forbear.domain.errors import ValidationError
from forbear.services.complaints import desk
from forbear.web.deps import require_any
from forbear.web.pages.render import page
from forbear.web.permissions import MAX_ID
from forbear.web.sessions import Principal

Reader = Annotated[Principal, Depends(require_any(*desk.READ))]
Worker = Annotated[Principal, Depends(require_any(*desk.WORK))]
Auditor = Annotated[Principal, Depends(require_any("audit.view"))]
SECTIONS = ("complaints", "blocked", "rules", "audit", "templates", "cases", "unmasking")
ALERT_DAYS = 7  # the unmask alerts look back this many days


def whole(value: str, field: str) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        raise ValidationError(field, "not a whole number") from None
    if not 1 <= number <= MAX_ID:
        raise ValidationError(field, f"between 1 and {MAX_ID}")
    return number


def form_date(value: str | None, field: str) -> date | None:
    if value is None or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationError(field, "a date as YYYY-MM-DD") from None


def render(request: Request, principal: Principal, template: str, **context: Any) -> Response:
    return page(
        request,
        template,
        principal,
        sections=[
            s
            for s in SECTIONS
            if (s != "audit" or can(principal.role, "audit.view"))
            and (s not in ("templates", "unmasking") or can(principal.role, "compliance.view"))
        ],
        **context,
    )
