"""Message templates: save (checked), approve, list, render (checked again at send time).

Every template passes the content filter (:mod:`forbear.domain.compliance.content`) before
it is stored, and every rendered text passes it again before it is returned: a value put
into a placeholder (a note, a product name, an amount in a third-party message) can make a
clean template say something forbidden. A refusal raises :class:`ContentRejected` with the
violations and stores nothing.

A code has versions 1, 2, 3, ...: saving stores a new ``draft`` version; approving one
retires the version approved before; rendering uses the approved version. Each function
works inside the caller's transaction (the CLI's ``forbear.transaction()``); nothing
commits here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from forbear.domain.compliance.config import DEFAULT_LENDER
from forbear.domain.compliance.content import (
    Audience,
    CheckContext,
    ContentRejected,
    Lang,
    Violation,
    check_template,
    check_text,
    fill,
)
from forbear.domain.compliance.schema import Channel
from forbear.domain.errors import Conflict, NotFound, ValidationError
from forbear.store import audit
from forbear.store.templates import MessageTemplate, TemplateStatus

_T = cast(Table, MessageTemplate.__table__)
# US.REGF.OPTOUT: every e-mail and text carries an opt-out. English templates serve the US
# pack; Chinese SMS carry "回T退订" by carrier rules but the CN pack does not require it.
_TEXT_CHANNELS = frozenset({Channel.SMS, Channel.EMAIL, Channel.IM})


@dataclass(frozen=True, slots=True)
class TemplateInfo:
    id: int
    code: str
    version: int
    channel: str
    audience: Audience
    lang: Lang
    body: str
    status: str
    checked_at: datetime | None
    created_at: datetime


def _info(row: Any) -> TemplateInfo:
    return TemplateInfo(
        id=row.id,
        code=row.code,
        version=row.version,
        channel=row.channel,
        audience=cast(Audience, row.audience),
        lang=cast(Lang, row.lang),
        body=row.body,
        status=row.status,
        checked_at=row.checked_at,
        created_at=row.created_at,
    )


def _validated(code: str, channel: str, audience: str, lang: str) -> tuple[Channel, Audience, Lang]:
    if not code.strip() or len(code) > 100:
        raise ValidationError("code", "give a code of 1 to 100 characters")
    try:
        chosen = Channel(channel)
    except ValueError:
        raise ValidationError("channel", f"one of {', '.join(c.value for c in Channel)}") from None
    if audience not in ("debtor", "third_party"):
        raise ValidationError("audience", "debtor or third_party")
    if lang not in ("zh", "en"):
        raise ValidationError("lang", "zh or en")
    return chosen, cast(Audience, audience), cast(Lang, lang)


def context_for(
    channel: str, lang: str, *, time_barred: bool = False, pack: str = DEFAULT_LENDER.pack
) -> CheckContext:
    """The check context of a template: opt-out required on English texts and e-mails;
    findings carry the rule ids of the lender's ``pack`` (:func:`lender_pack`)."""
    return CheckContext(
        time_barred=time_barred,
        require_opt_out=lang == "en" and channel in _TEXT_CHANNELS,
        pack=pack,
    )


def lender_pack(conn: Connection) -> str:
    """The rule pack of the lender's stored configuration in force (the default lender's
    when none is stored): a US lender's findings carry US rule ids."""
    from forbear.services import lender

    info = lender.current(conn)
    return info.pack if info is not None else DEFAULT_LENDER.pack


def check_body(body: str, *, channel: str, audience: str, lang: str) -> list[Violation]:
    """What :func:`save_template` would refuse, without storing anything."""
    chosen, audience_, lang_ = _validated("check", channel, audience, lang)
    return check_template(body, lang=lang_, audience=audience_, context=context_for(chosen, lang_))


def save_template(
    conn: Connection,
    code: str,
    channel: str,
    audience: str,
    lang: str,
    body: str,
    *,
    actor: str = "system",
    now: datetime,
) -> TemplateInfo:
    """Store ``body`` as the next draft version of ``code``, if it passes the filter.

    Raises :class:`ContentRejected` (nothing stored) when it does not.
    """
    chosen, audience_, lang_ = _validated(code, channel, audience, lang)
    if not body.strip():
        raise ValidationError("body", "the template is empty")
    violations = check_template(
        body,
        lang=lang_,
        audience=audience_,
        context=context_for(chosen, lang_, pack=lender_pack(conn)),
    )
    if violations:
        raise ContentRejected(f"template {code}", violations)
    moment = now
    latest = conn.execute(select(func.max(_T.c.version)).where(_T.c.code == code)).scalar()
    version = int(latest or 0) + 1
    values = {
        "code": code,
        "version": version,
        "channel": chosen.value,
        "audience": audience_,
        "lang": lang_,
        "body": body,
        "status": TemplateStatus.DRAFT.value,
        "checked_at": moment,
        "created_at": moment,
    }
    try:
        with conn.begin_nested():
            new_id = conn.execute(insert(_T).values(**values).returning(_T.c.id)).scalar_one()
    except IntegrityError:
        raise Conflict(f"template {code} version {version} was saved meanwhile") from None
    audit.record(
        conn,
        action="template.saved",
        actor=actor,
        subject_type="message_template",
        subject_id=new_id,
        payload={"code": code, "version": version, "audience": audience_},
        at=moment,
    )
    return get_version(conn, code, version)


def get_version(conn: Connection, code: str, version: int) -> TemplateInfo:
    row = conn.execute(select(_T).where(_T.c.code == code, _T.c.version == version)).one_or_none()
    if row is None:
        raise NotFound("template", f"{code} v{version}")
    return _info(row)


def approved(conn: Connection, code: str) -> TemplateInfo:
    """The approved version of ``code``."""
    row = conn.execute(
        select(_T).where(_T.c.code == code, _T.c.status == TemplateStatus.APPROVED.value)
    ).one_or_none()
    if row is None:
        raise NotFound("approved template", code)
    return _info(row)


def approve_template(
    conn: Connection,
    code: str,
    version: int | None = None,
    *,
    actor: str = "system",
    now: datetime,
) -> TemplateInfo:
    """Approve a version (default: the newest), retiring the one approved before.

    The body is checked again: the lexicons may have grown since it was saved.
    """
    if version is None:
        version = conn.execute(select(func.max(_T.c.version)).where(_T.c.code == code)).scalar()
        if version is None:
            raise NotFound("template", code)
    info = get_version(conn, code, version)
    if info.status == TemplateStatus.RETIRED.value:
        raise Conflict(f"template {code} v{version} is retired; save it again as a new version")
    violations = check_template(
        info.body,
        lang=info.lang,
        audience=info.audience,
        context=context_for(info.channel, info.lang, pack=lender_pack(conn)),
    )
    if violations:
        raise ContentRejected(f"template {code} v{version}", violations)
    moment = now
    conn.execute(
        update(_T)
        .where(_T.c.code == code, _T.c.status == TemplateStatus.APPROVED.value)
        .values(status=TemplateStatus.RETIRED.value)
    )
    conn.execute(
        update(_T)
        .where(_T.c.id == info.id)
        .values(status=TemplateStatus.APPROVED.value, checked_at=moment)
    )
    audit.record(
        conn,
        action="template.approved",
        actor=actor,
        subject_type="message_template",
        subject_id=info.id,
        payload={"code": code, "version": version},
        at=moment,
    )
    return get_version(conn, code, version)


def list_templates(conn: Connection, *, code: str | None = None) -> list[TemplateInfo]:
    query = select(_T).order_by(_T.c.code, _T.c.version)
    if code is not None:
        query = query.where(_T.c.code == code)
    return [_info(row) for row in conn.execute(query)]


def render(
    conn: Connection,
    code: str,
    values: Mapping[str, str],
    *,
    time_barred: bool = False,
) -> str:
    """The approved template of ``code`` with ``values`` filled in, checked as sent.

    Raises :class:`ContentRejected` when the text after substitution fails the filter
    (the error names rule ids and spans, never the text: it holds personal data), and
    :class:`ValidationError` when a placeholder has no value.
    """
    info = approved(conn, code)
    text = fill(info.body, values).text
    violations = check_text(
        text,
        lang=info.lang,
        audience=info.audience,
        context=context_for(
            info.channel, info.lang, time_barred=time_barred, pack=lender_pack(conn)
        ),
    )
    if violations:
        raise ContentRejected(f"template {code} v{info.version} as rendered", violations)
    return text


# ---------------------------------------------------------------- the shipped library


def library(name: str = "CN_default") -> list[dict[str, str]]:
    """The shipped templates of a strategy (``template_library/<name>.yaml``)."""
    from importlib import resources

    import yaml

    text = (
        resources.files("forbear.services.template_library")
        .joinpath(f"{name}.yaml")
        .read_text(encoding="utf-8")
    )
    entries = yaml.safe_load(text)
    if not isinstance(entries, list):
        raise ValidationError(f"template library {name}", "expected a list of templates")
    return [{str(k): str(v) for k, v in entry.items()} for entry in entries]


def install_library(
    conn: Connection,
    name: str = "CN_default",
    *,
    actor: str = "system",
    now: datetime,
) -> list[TemplateInfo]:
    """Save and approve every shipped template whose code has no approved version yet
    (idempotent: a lender's own approved version is never replaced)."""
    installed: list[TemplateInfo] = []
    for entry in library(name):
        try:
            approved(conn, entry["code"])
            continue
        except NotFound:
            pass
        save_template(
            conn,
            entry["code"],
            entry["channel"],
            entry.get("audience", "debtor"),
            entry.get("lang", "zh"),
            entry["body"],
            actor=actor,
            now=now,
        )
        installed.append(approve_template(conn, entry["code"], actor=actor, now=now))
    return installed
