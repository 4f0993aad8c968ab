"""The holds and disputes queue (issue 15, item 1), a hold's page with its actions, the
account page's part, and the borrower's evidence upload in the portal.

Staff pages need ``hold.release`` (supervisors and compliance officers: the nav link and
every use case of :mod:`forbear.services.holds` check it). Each route parses, calls one
use case and renders; a refusal re-renders the hold's page with the reason beside the
form and what was typed kept (422 / 409), and nothing is written.

The portal route ``/portal/disputes/{dispute_id}/evidence`` (``dispute_id``: the dispute
hold's id) lets a signed-in borrower attach files to their own open dispute; anyone
else's dispute is not found.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Connection

from forbear.domain.errors import Conflict, ForbearError, NotFound, ValidationError
from forbear.domain.holds import DisputeStatus, HoldKind, Resolution
from forbear.services import holds as svc
from forbear.services import portal as portal_svc
from forbear.web.deps import require_any, state_of
from forbear.web.i18n import Translator, request_lang
from forbear.web.pages import portal_parts
from forbear.web.pages.account_parts import account_section, local
from forbear.web.pages.render import page
from forbear.web.permissions import MAX_ID
from forbear.web.portal_session import borrower_of
from forbear.web.sessions import Principal

router = APIRouter()
Desk = Annotated[Principal, Depends(require_any(svc.RELEASE))]
HoldId = Annotated[int, Path(ge=1, le=MAX_ID)]
KINDS = tuple(k.value for k in HoldKind)
DONE = ("take", "assign", "verifying", "answered", "release")
# a use case's refusal -> the catalogue's words (beside the form)
FIELD_WORDS = {
    "reason": "holds.err.reason",
    "answer": "holds.err.answer",
    "resolution": "holds.err.resolution",
    "owner": "holds.err.owner",
    "hold": "holds.err.hold",
    "status": "holds.err.status",
    "kind": "holds.err.kind",
    "page": "holds.err.page",
}


def _t(request: Request) -> Translator:
    return Translator(request_lang(request))


# ------------------------------------------------------------------------------ queue


@router.get("/holds")
def holds_queue(
    request: Request,
    principal: Desk,
    kind: Annotated[str | None, Query(max_length=20)] = None,
    overdue: Annotated[bool, Query()] = False,
    page_no: Annotated[int, Query(alias="page", ge=1, le=svc.MAX_PAGE)] = 1,
) -> Response:
    """Open holds and disputes: kind, scope, reason in words, owner, age, SLA clock."""
    web = state_of(request)
    chosen = kind if kind in KINDS else None
    if kind and chosen is None:
        raise ValidationError("kind", f"one of {', '.join(KINDS)}")
    with web.forbear.reading() as conn:
        found = svc.queue(
            conn,
            principal.as_actor(),
            now=web.now(),
            today=web.today(),
            kind=chosen,
            overdue_only=overdue,
            page=page_no,
        )
    query = "&".join(
        p for p in (f"kind={chosen}" if chosen else "", "overdue=true" if overdue else "") if p
    )
    return page(
        request,
        "holds/queue.html",
        principal,
        found=found,
        kinds=KINDS,
        chosen=chosen,
        overdue=overdue,
        query=query,
        answer_days=svc.answer_days(),
    )


# ------------------------------------------------------------------------------ one hold


def _hold_page(
    request: Request,
    principal: Principal,
    hold_id: int,
    *,
    done: str | None = None,
    error: str | None = None,
    form: str | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    web = state_of(request)
    with web.forbear.reading() as conn:
        view = svc.detail(
            conn, web.forbear.vault, principal.as_actor(), hold_id, now=web.now(), today=web.today()
        )
    return page(
        request,
        "holds/detail.html",
        principal,
        status_code=status_code,
        h=view,
        done=done if done in DONE else None,
        error=error,
        form=form,
        values=values or {},
        resolutions=[r.value for r in Resolution],
        local=lambda m: local(m, web.forbear.settings.lender_timezone),
    )


@router.get("/holds/{hold_id}")
def hold_page(
    request: Request,
    principal: Desk,
    hold_id: HoldId,
    done: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    return _hold_page(request, principal, hold_id, done=done)


def _refused(
    request: Request,
    principal: Principal,
    hold_id: int,
    exc: ForbearError,
    form: str,
    values: dict[str, str],
) -> Response:
    """A refusal on the hold's page, beside the form that was sent, keeping its values."""
    t = _t(request)
    if isinstance(exc, ValidationError):
        words = t(FIELD_WORDS.get(exc.field, "holds.err.hold"))
        status = 422
    else:
        conflict = {"take": "holds.err.taken", "release": "holds.err.released"}
        words = t(conflict.get(form, "holds.err.moved"))
        status = 409
    return _hold_page(
        request,
        principal,
        hold_id,
        error=words,
        form=form,
        values=values,
        status_code=status,
    )


def _act(
    request: Request,
    principal: Principal,
    hold_id: int,
    form: str,
    values: dict[str, str],
    work: Any,
) -> Response:
    web = state_of(request)
    try:
        with web.forbear.transaction() as conn:
            done = work(conn, web)
    except (ValidationError, Conflict) as exc:
        return _refused(request, principal, hold_id, exc, form, values)
    return RedirectResponse(f"/holds/{hold_id}?done={done}", status_code=303)


@router.post("/holds/{hold_id}/take")
def take(request: Request, principal: Desk, hold_id: HoldId) -> Response:
    def work(conn: Connection, web: Any) -> str:
        svc.take(conn, principal.as_actor(), hold_id, now=web.now(), today=web.today())
        return "take"

    return _act(request, principal, hold_id, "take", {}, work)


@router.post("/holds/{hold_id}/assign")
def assign(
    request: Request,
    principal: Desk,
    hold_id: HoldId,
    owner: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    def work(conn: Connection, web: Any) -> str:
        svc.assign(conn, principal.as_actor(), hold_id, to=owner, now=web.now(), today=web.today())
        return "assign"

    return _act(request, principal, hold_id, "assign", {"owner": owner}, work)


@router.post("/holds/{hold_id}/verify")
def verify(request: Request, principal: Desk, hold_id: HoldId) -> Response:
    def work(conn: Connection, web: Any) -> str:
        svc.move_dispute(
            conn,
            web.forbear.vault,
            principal.as_actor(),
            hold_id,
            to=DisputeStatus.VERIFYING.value,
            now=web.now(),
            today=web.today(),
        )
        return "verifying"

    return _act(request, principal, hold_id, "verify", {}, work)


@router.post("/holds/{hold_id}/answer")
def answer(
    request: Request,
    principal: Desk,
    hold_id: HoldId,
    text: Annotated[str, Form(alias="answer", max_length=4000)] = "",
) -> Response:
    def work(conn: Connection, web: Any) -> str:
        svc.move_dispute(
            conn,
            web.forbear.vault,
            principal.as_actor(),
            hold_id,
            to=DisputeStatus.ANSWERED.value,
            answer=text,
            now=web.now(),
            today=web.today(),
        )
        return "answered"

    return _act(request, principal, hold_id, "answer", {"answer": text}, work)


@router.post("/holds/{hold_id}/release")
def release(
    request: Request,
    principal: Desk,
    hold_id: HoldId,
    reason: Annotated[str, Form(max_length=4000)] = "",
    resolution: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    def work(conn: Connection, web: Any) -> str:
        svc.release(
            conn,
            web.forbear.vault,
            principal.as_actor(),
            hold_id,
            reason=reason,
            resolution=resolution or None,
            now=web.now(),
            today=web.today(),
        )
        return "release"

    values = {"reason": reason, "resolution": resolution}
    return _act(request, principal, hold_id, "release", values, work)


@router.get("/holds/evidence/{evidence_id}")
def evidence(request: Request, principal: Desk, evidence_id: HoldId) -> Response:
    """A borrower's file, for the staff who work the dispute (audited by the use case)."""
    web = state_of(request)
    with web.forbear.transaction() as conn:
        name, kind, data = svc.evidence_file(
            conn,
            web.forbear.vault,
            web.forbear.settings.data_dir,
            principal.as_actor(),
            evidence_id,
            now=web.now(),
            today=web.today(),
        )
    return Response(
        data,
        media_type=kind,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


# ------------------------------------------------------------------------ account page


@account_section
def account_holds(
    request: Request, conn: Connection, principal: Principal, loan_id: int, as_of: date | None
) -> dict[str, Any]:
    """The account page's holds and disputes (called in its transaction, scope checked)."""
    web = state_of(request)
    rows = svc.of_loan(conn, principal.as_actor(), loan_id, now=web.now(), today=web.today())
    return {"hold_rows": rows}


# ------------------------------------------------------------------------------ portal


def _evidence_page(
    request: Request,
    session: portal_svc.BorrowerSession,
    dispute_id: int,
    *,
    done: bool = False,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    web = state_of(request)
    with web.forbear.reading() as conn:
        hold, files = svc.borrower_evidence(
            conn, web.forbear.vault, borrower_id=session.borrower_id, hold_id=dispute_id
        )
        status = svc.dispute_status(conn, dispute_id)
    return portal_parts.render(
        request,
        "holds/portal_evidence.html",
        session,
        status_code=status_code,
        dispute=hold,
        status=status,
        files=files,
        done=done,
        error=error,
        max_kb=svc.MAX_EVIDENCE_BYTES // 1024,
        max_files=svc.MAX_EVIDENCE_FILES,
    )


@router.get("/portal/disputes/{dispute_id}/evidence")
def evidence_form(
    request: Request,
    dispute_id: str,
    done: Annotated[str | None, Query(max_length=4)] = None,
) -> Response:
    session = borrower_of(request)
    if session is None:
        return portal_parts.redirect_sign_in()
    return portal_parts.attempt(
        request,
        session,
        lambda: _evidence_page(
            request, session, portal_parts.loan_id_of(dispute_id), done=done == "1"
        ),
    )


@router.post("/portal/disputes/{dispute_id}/evidence")
async def evidence_upload(
    request: Request,
    dispute_id: str,
    file: Annotated[UploadFile | None, File()] = None,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    session = borrower_of(request)
    if session is None:
        return portal_parts.redirect_sign_in()
    portal_parts.check_form_csrf(session, csrf_token)
    t = _t(request)
    try:
        hold_id = portal_parts.loan_id_of(dispute_id)
    except NotFound as exc:
        return portal_parts.problem(request, session, exc)
    data = await file.read(svc.MAX_EVIDENCE_BYTES + 1) if file is not None else b""
    name = (file.filename or "") if file is not None else ""
    if file is None or not name:
        return _evidence_error(request, session, hold_id, t("holds.portal.err.missing"))
    web = state_of(request)
    try:
        with web.forbear.transaction() as conn:
            svc.add_evidence(
                conn,
                web.forbear.vault,
                web.forbear.settings.data_dir,
                borrower_id=session.borrower_id,
                hold_id=hold_id,
                filename=name,
                data=data,
                now=web.now(),
            )
    except ValidationError as exc:
        kb, n = svc.MAX_EVIDENCE_BYTES // 1024, svc.MAX_EVIDENCE_FILES
        key = (
            "holds.portal.err.empty"
            if "empty" in exc.reason
            else "holds.portal.err.size"
            if "at most" in exc.reason
            else "holds.portal.err.type"
        )
        return _evidence_error(request, session, hold_id, t(key, kb=kb, n=n))
    except Conflict as exc:
        closed = "closed" in str(exc)
        words = (
            t("holds.portal.closed")
            if closed
            else t("holds.portal.err.many", n=svc.MAX_EVIDENCE_FILES)
        )
        return _evidence_error(request, session, hold_id, words, status_code=409)
    except NotFound as exc:
        return portal_parts.problem(request, session, exc)
    return RedirectResponse(f"/portal/disputes/{hold_id}/evidence?done=1", status_code=303)


def _evidence_error(
    request: Request,
    session: portal_svc.BorrowerSession,
    hold_id: int,
    words: str,
    status_code: int = 422,
) -> Response:
    return portal_parts.attempt(
        request,
        session,
        lambda: _evidence_page(request, session, hold_id, error=words, status_code=status_code),
    )
