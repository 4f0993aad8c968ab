"""Staff management for the admin (issue 15, item 9): list, add (an initial password
generated and shown once, or typed), disable and enable, reset a password (a new one
shown once), change role and scope (agency, buckets, queue, team).

The same use cases as ``forbear staff ...`` (:mod:`forbear.services.staff`): they check
``staff.manage``, refuse to disable or demote oneself or the last admin, and audit every
change. Usernames travel as form or query values (no ids in the path).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from forbear.domain.access import Role
from forbear.domain.errors import NotFound, ValidationError
from forbear.domain.ledger import DEFAULT_BUCKETS
from forbear.services import credentials
from forbear.services import staff as svc
from forbear.web.deps import require_any, state_of
from forbear.web.i18n import Translator, request_lang
from forbear.web.pages.render import page
from forbear.web.sessions import Principal

router = APIRouter(prefix="/admin")
Admin = Annotated[Principal, Depends(require_any("staff.manage"))]
Username = Annotated[str, Form(max_length=64)]
FIELDS = ("username", "display_name", "role", "agency", "scope_buckets", "agent_ref",
          "team_id", "password")  # fmt: skip
DONE = ("added", "disabled", "enabled", "role_changed")


def _words(t: Translator, exc: Exception, username: str) -> tuple[str | None, str]:
    """(field, words) of a refusal, in the reader's language."""
    if isinstance(exc, ValidationError):
        field = exc.field if exc.field in FIELDS else None
        return field, t(f"admin.error.{field}") if field else t("admin.error.other")
    if isinstance(exc, svc.StaffConflict):
        return ("username" if exc.code == "exists" else None), t(
            f"admin.conflict.{exc.code}", username=username
        )
    if isinstance(exc, NotFound):
        return None, t("admin.not_found", username=username)
    raise exc


def _agency(value: str) -> int | None:
    text = value.strip()
    if not text:
        return None
    if not text.isdigit() or not 1 <= int(text) <= 2**31 - 1:
        raise ValidationError("agency", "a positive agency id")
    return int(text)


def _list(
    request: Request,
    principal: Principal,
    *,
    status_code: int = 200,
    notice: str | None = None,
    error: str | None = None,
    field_errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    once: dict[str, str] | None = None,
) -> Response:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        people = svc.list_staff(conn)
    return page(
        request,
        "admin/staff.html",
        principal,
        status_code=status_code,
        people=people,
        roles=[r.value for r in Role],
        buckets=list(DEFAULT_BUCKETS.labels),
        notice=notice,
        error=error,
        field_errors=field_errors or {},
        values=values or {"password_mode": "generate", "scope_buckets": []},
        once=once,
        now=web.now(),
        zone=web.forbear.settings.zone,
    )


@router.get("/staff")
def staff_list(
    request: Request,
    principal: Admin,
    done: Annotated[str | None, Query(max_length=20)] = None,
    who: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """Every staff account with its role, scope and state."""
    t = Translator(request_lang(request))
    notice = t(f"admin.{done}", username=who or "") if done in DONE else None
    return _list(request, principal, notice=notice)


@router.post("/staff/add")
def add(
    request: Request,
    principal: Admin,
    username: Username = "",
    display_name: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=32)] = "",
    agency: Annotated[str, Form(max_length=12)] = "",
    scope_buckets: Annotated[list[str] | None, Form()] = None,
    agent_ref: Annotated[str, Form(max_length=64)] = "",
    team_id: Annotated[str, Form(max_length=64)] = "",
    password_mode: Annotated[str, Form(max_length=10)] = "generate",
    password: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    """A new staff account; a generated initial password is shown once on the answer."""
    t = Translator(request_lang(request))
    web = state_of(request)
    chosen = list(scope_buckets or [])
    values = {"username": username, "display_name": display_name, "role": role,
              "agency": agency, "scope_buckets": chosen, "agent_ref": agent_ref,
              "team_id": team_id, "password_mode": password_mode}  # fmt: skip
    initial = password if password_mode == "own" else credentials.new_initial_password()
    try:
        with web.forbear.transaction() as conn:
            made = svc.add_staff(
                conn,
                username=username,
                display_name=display_name,
                role=role,
                actor=principal.as_actor(),
                now=web.now(),
                password=initial,
                agency_id=_agency(agency),
                agent_ref=agent_ref,
                team_id=team_id,
                scope_buckets=chosen,
            )
    except (ValidationError, svc.StaffConflict) as exc:
        field, words = _words(t, exc, username.strip().lower())
        return _list(request, principal, status_code=422, error=t("admin.refused"),
                     field_errors={field or "form": words}, values=values)  # fmt: skip
    once = None if password_mode == "own" else {"username": made.username, "password": initial}
    return _list(request, principal, notice=t("admin.added", username=made.username), once=once)


def _act(request: Request, principal: Principal, username: str, action: str) -> Response:
    t = Translator(request_lang(request))
    web = state_of(request)
    name = username.strip().lower()
    once: dict[str, str] | None = None
    try:
        with web.forbear.transaction() as conn:
            actor, now = principal.as_actor(), web.now()
            if action == "disable":
                svc.disable_staff(conn, name, actor=actor, now=now)
            elif action == "enable":
                svc.enable_staff(conn, name, actor=actor, now=now)
            else:
                once = {
                    "username": name,
                    "password": svc.reset_password(conn, name, actor=actor, now=now),
                }
    except (ValidationError, svc.StaffConflict, NotFound) as exc:
        _, words = _words(t, exc, name)
        return _list(
            request,
            principal,
            status_code=409 if isinstance(exc, svc.StaffConflict) else 422,
            error=words,
        )
    if once:
        return _list(request, principal, once=once)
    return RedirectResponse(f"/admin/staff?done={action}d&who={name}", status_code=303)


@router.post("/staff/disable")
def disable(request: Request, principal: Admin, username: Username) -> Response:
    """Disable an account (its sessions and API tokens stop at once)."""
    return _act(request, principal, username, "disable")


@router.post("/staff/enable")
def enable(request: Request, principal: Admin, username: Username) -> Response:
    """Enable a disabled or locked account."""
    return _act(request, principal, username, "enable")


@router.post("/staff/reset")
def reset(request: Request, principal: Admin, username: Username) -> Response:
    """A new initial password, shown once."""
    return _act(request, principal, username, "reset")


@router.get("/staff/edit")
def edit(request: Request, principal: Admin, u: Annotated[str, Query(max_length=64)]) -> Response:
    """The role and scope form of one account."""
    web = state_of(request)
    with web.forbear.transaction() as conn:
        person = svc.get_staff(conn, u)
    return _edit(request, principal, person, {
        "role": person.role, "agency": str(person.agency_id or ""),
        "scope_buckets": list(person.scope_buckets), "agent_ref": person.agent_ref or "",
        "team_id": person.team_id or "",
    })  # fmt: skip


def _edit(
    request: Request,
    principal: Principal,
    person: svc.StaffInfo,
    values: dict[str, Any],
    *,
    status_code: int = 200,
    field_errors: dict[str, str] | None = None,
) -> Response:
    return page(request, "admin/edit.html", principal, status_code=status_code, person=person,
                values=values, roles=[r.value for r in Role], buckets=list(DEFAULT_BUCKETS.labels),
                field_errors=field_errors or {})  # fmt: skip


@router.post("/staff/role")
def change_role(
    request: Request,
    principal: Admin,
    username: Username,
    role: Annotated[str, Form(max_length=32)] = "",
    agency: Annotated[str, Form(max_length=12)] = "",
    scope_buckets: Annotated[list[str] | None, Form()] = None,
    agent_ref: Annotated[str, Form(max_length=64)] = "",
    team_id: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """A new role and scope; refusals come back beside their field, values kept."""
    t = Translator(request_lang(request))
    web = state_of(request)
    chosen = list(scope_buckets or [])
    values = {"role": role, "agency": agency, "scope_buckets": chosen, "agent_ref": agent_ref,
              "team_id": team_id}  # fmt: skip
    try:
        with web.forbear.transaction() as conn:
            made = svc.change_role(
                conn, username, role=role, actor=principal.as_actor(), now=web.now(),
                agency_id=_agency(agency), agent_ref=agent_ref, team_id=team_id,
                scope_buckets=chosen,
            )  # fmt: skip
    except (ValidationError, svc.StaffConflict) as exc:
        field, words = _words(t, exc, username.strip().lower())
        with web.forbear.transaction() as conn:
            person = svc.get_staff(conn, username)
        return _edit(request, principal, person, values,
                     status_code=409 if isinstance(exc, svc.StaffConflict) else 422,
                     field_errors={field or "form": words})  # fmt: skip
    return RedirectResponse(f"/admin/staff?done=role_changed&who={made.username}", status_code=303)
