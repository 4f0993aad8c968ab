"""Strategies from the web (issue 15, item 8): list the versions (the active one marked),
read one in words, compare two, run the pre-launch check, add a version (YAML, validated:
nothing is stored on refusal) and activate one.

The same use cases as ``forbear strategy ...`` (:mod:`forbear.services.strategies`), which
check ``strategy.manage`` and audit every write; the page only parses, calls and renders.
Ids are query or form values (no ids in the path: a strategy version is not an account).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from forbear.domain.errors import NotFound, ValidationError
from forbear.domain.strategy import Strategy, StrategyRejected, default_strategy
from forbear.domain.strategy.compare import compare
from forbear.domain.strategy.conditions import Always, Condition, Leaf, Node
from forbear.domain.strategy.model import ActionSpec
from forbear.services import contacts as contact_service
from forbear.services import strategies as svc
from forbear.services.days import book_date
from forbear.web.deps import require_any, state_of
from forbear.web.i18n import Translator, request_lang
from forbear.web.pages.render import page, yuan
from forbear.web.permissions import MAX_ID
from forbear.web.sessions import Principal

router = APIRouter(prefix="/strategies")
Manager = Annotated[Principal, Depends(require_any("strategy.manage"))]
Id = Annotated[int, Query(ge=1, le=MAX_ID)]
MAX_BLOCKED = 0.3  # the CLI's default --max-blocked
MONEY = frozenset({"outstanding", "overdue_total"})
SEP = {"zh-CN": "、", "en": ", "}  # between the items of a list, by language
AND = {"zh-CN": "；", "en": "; "}


OptId = Annotated[str | None, Query(max_length=12)]  # empty: the shipped default


def _opt_id(value: str | None, field: str) -> int | None:
    """A version id from a form's select, or None (the shipped default) when empty."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if not text.isdigit() or not 1 <= int(text) <= MAX_ID:
        raise ValidationError(field, f"a version id between 1 and {MAX_ID}")
    return int(text)


class _Rollback(Exception):
    """Leaves the check's transaction without keeping anything it computed."""


# ------------------------------------------------------------------------ in words


class Words:
    """A strategy told in the reader's language (conditions, actions, names)."""

    def __init__(self, t: Translator) -> None:
        self.t = t

    def name(self, group: str, code: str) -> str:
        """A segment's or treatment's name: the catalogue's words for the shipped ids,
        the strategy author's own id otherwise."""
        key = f"strategies.{group}.{code}"
        return self.t(key) if self.t.has(key) else code

    def names(self, group: str, codes: list[str]) -> str:
        return SEP[self.t.lang].join(self.name(group, c) for c in codes)

    def known(self, group: str, code: str) -> bool:
        return self.t.has(f"strategies.{group}.{code}")

    def value(self, field: str, value: Any) -> str:
        if isinstance(value, tuple):
            return SEP[self.t.lang].join(self.value(field, v) for v in value)
        if field in MONEY and isinstance(value, int | float):
            return yuan(int(value))
        if field in ("propensity", "ew_pd") and isinstance(value, float):
            return f"{value:.0%}"
        text = str(value)
        key = f"strategies.value.{text}"
        return self.t(key) if field == "status" and self.t.has(key) else text

    def condition(self, c: Condition) -> str:
        t = self.t
        if isinstance(c, Always):
            return t("strategies.always") if c.value else t("strategies.never")
        if isinstance(c, Leaf):
            field = t(f"strategies.field.{c.field}")
            if isinstance(c.value, bool):
                positive = c.value == (c.op == "==")
                return t("strategies.is_true" if positive else "strategies.is_false", field=field)
            return t(f"strategies.op.{c.op}", field=field, value=self.value(c.field, c.value))
        assert isinstance(c, Node)
        if c.op == "not":
            return t("strategies.not") + self.condition(c.children[0])
        joiner = AND[t.lang] if c.op == "all" else t("strategies.or")
        head = t("strategies.all") if c.op == "all" else t("strategies.any")
        return head + joiner.join(self.condition(k) for k in c.children)

    def action(self, a: ActionSpec) -> str:
        t = self.t
        if a.every is not None:
            when = t("strategies.every", n=a.day or 0, every=a.every)
        elif a.day is not None:
            when = t("strategies.day", n=a.day)
        else:
            when = t("strategies.on_dpd", n=a.on_dpd)
        return t(
            "strategies.action",
            when=when,
            channel=t.label("channel", a.channel.value),
            purpose=t(f"strategies.purpose.{a.purpose.value}"),
        )

    def stops(self, what: tuple[str, ...] | list[Any]) -> str:
        t = self.t
        if not what:
            return t("strategies.nothing")
        return SEP[self.t.lang].join(t(f"strategies.stop.{getattr(w, 'value', w)!s}") for w in what)

    def channels(self, codes: tuple[str, ...]) -> str:
        return SEP[self.t.lang].join(self.t.label("channel", c) for c in codes)


def _label(t: Translator, info: svc.StrategyInfo | None) -> str:
    if info is None:
        return t("strategies.default_label")
    return t("strategies.version_label", name=info.name, version=info.version)


def _render(request: Request, principal: Principal, template: str, **context: Any) -> Response:
    t = Translator(request_lang(request))
    return page(
        request, template, principal, words=Words(t), label=lambda i: _label(t, i), **context
    )


def _chosen(
    conn: Any, principal: Principal, strategy_id: int | None
) -> tuple[svc.StrategyInfo | None, Strategy]:
    """A stored version, or the shipped default (``None``)."""
    if strategy_id is None:
        return None, default_strategy()
    return svc.version(conn, strategy_id, principal.as_actor())


# ------------------------------------------------------------------------ list and add


def _list(
    request: Request,
    principal: Principal,
    *,
    status_code: int = 200,
    error: dict[str, Any] | None = None,
    typed: str = "",
    done: str | None = None,
) -> Response:
    web = state_of(request)
    with web.forbear.transaction() as conn:
        rows = svc.versions(conn, principal.as_actor())
    return _render(
        request,
        principal,
        "strategies/list.html",
        rows=rows,
        active=next((r for r in rows if r.status == "active"), None),
        error=error,
        typed=typed,
        done=done,
        zone=web.forbear.settings.zone,
        status_code=status_code,
    )


@router.get("")
def strategies(
    request: Request,
    principal: Manager,
    added: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    activated: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Response:
    """The stored versions, newest last per name, the active one marked."""
    t = Translator(request_lang(request))
    done = None
    if added or activated:
        web = state_of(request)
        with web.forbear.transaction() as conn:
            try:
                info, _ = svc.version(conn, added or activated or 0, principal.as_actor())
                key = "strategies.added" if added else "strategies.activated"
                done = t(key, label=_label(t, info))
            except NotFound:
                done = None
    return _list(request, principal, done=done)


@router.post("/add")
async def add(
    request: Request,
    principal: Manager,
    yaml_text: Annotated[str, Form(max_length=svc.MAX_TEXT)] = "",
    upload: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Validate a strategy (pasted or uploaded) and store it as a candidate version; on
    refusal the form comes back with the reason beside the field and the text kept."""
    t = Translator(request_lang(request))
    text, source = yaml_text, "strategy.yaml"
    if upload is not None and upload.filename:
        raw = await upload.read(svc.MAX_TEXT * 4 + 1)
        if len(raw) > svc.MAX_TEXT * 4:
            return _list(request, principal, status_code=422, typed=yaml_text,
                         error={"lead": t("strategies.too_long", n=svc.MAX_TEXT)})  # fmt: skip
        try:
            text, source = raw.decode("utf-8-sig"), upload.filename[:100]
        except UnicodeDecodeError:
            return _list(request, principal, status_code=422, typed=yaml_text,
                         error={"lead": t("strategies.not_utf8")})  # fmt: skip
    if not text.strip():
        return _list(request, principal, status_code=422, typed=text,
                     error={"lead": t("strategies.empty")})  # fmt: skip
    web = state_of(request)
    try:
        with web.forbear.transaction() as conn:
            info = svc.add_strategy_text(
                conn, text, source=source, actor=principal.as_actor(), now=web.now()
            )
    except StrategyRejected as exc:
        where = [t("strategies.rejected_where", line=exc.line)] if exc.line else []
        if exc.key:
            where.append(t("strategies.rejected_key", key=exc.key))
        error = {
            "lead": t("strategies.rejected"),
            "where": "，".join(where) if t.lang == "zh-CN" else ", ".join(where),
            "reason": exc.reason,
        }
        return _list(request, principal, status_code=422, typed=text, error=error)
    return RedirectResponse(f"/strategies?added={info.id}", status_code=303)


@router.post("/activate")
def activate(
    request: Request,
    principal: Manager,
    strategy_id: Annotated[int, Form(ge=1, le=MAX_ID)],
) -> Response:
    """Activate a version (the active one is retired): one active version at a time."""
    web = state_of(request)
    with web.forbear.transaction() as conn:
        info = svc.activate(conn, strategy_id, principal.as_actor(), now=web.now())
    return RedirectResponse(f"/strategies?activated={info.id}", status_code=303)


# ------------------------------------------------------------------------ read, compare, check


@router.get("/view")
def view(
    request: Request, principal: Manager, id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None
) -> Response:
    """One version (or the shipped default, without ``id``) in words."""
    web = state_of(request)
    with web.forbear.transaction() as conn:
        info, strategy = _chosen(conn, principal, id)
    return _render(request, principal, "strategies/view.html", info=info, strategy=strategy,
                   treatments={x.id: x for x in strategy.spec.treatments})  # fmt: skip


@router.get("/compare")
def compare_page(
    request: Request,
    principal: Manager,
    a: OptId = None,
    b: OptId = None,
) -> Response:
    """What differs from version ``a`` to version ``b`` (either may be the shipped
    default, left out): segments, treatments (channels, cadence), experiments."""
    web = state_of(request)
    with web.forbear.transaction() as conn:
        old_info, old = _chosen(conn, principal, _opt_id(a, "a"))
        new_info, new = _chosen(conn, principal, _opt_id(b, "b"))
    return _render(request, principal, "strategies/compare.html", old_info=old_info,
                   new_info=new_info, diff=compare(old, new))  # fmt: skip


@router.get("/check")
def check(
    request: Request, principal: Manager, id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None
) -> Response:
    """The pre-launch check (``forbear strategy check``) of a version on today's book,
    against the lender's rules in force; nothing is written."""
    web = state_of(request)
    result: dict[str, Any] = {}
    try:
        with web.forbear.transaction() as conn:
            info, strategy = _chosen(conn, principal, id)
            day = book_date(conn, web.today()) or web.today()
            rules = contact_service.lender_rules(web.forbear.settings.data_dir, conn)
            try:
                report, passed = svc.check(conn, strategy, day, MAX_BLOCKED, rules), True
            except svc.StrategyCheckFailed as failed:
                report, passed = failed.report, False
            result = {"info": info, "report": report, "passed": passed, "day": day}
            raise _Rollback  # a check keeps nothing, not even the states it computed
    except _Rollback:
        pass
    if not result:
        raise ValidationError("id", "the check did not run")
    return _render(request, principal, "strategies/check.html", limit=MAX_BLOCKED, **result)
