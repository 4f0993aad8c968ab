"""The compliance console (issue 7), its other sections: blocked contacts by rule id with a
drill-down, the rule pack in force with its sources, the audit trail with verification,
template review with the content filter's findings, and staff refused by the unmask
throttle. The complaints are :mod:`.complaints`; what they share, :mod:`.console`.

Permissions: compliance officers (``compliance.view``) see everything here; supervisors
(``plan.approve``) the blocked contacts and the rules; the audit trail needs
``audit.view``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from markupsafe import Markup
from sqlalchemy import Connection

from forbear.domain.compliance.config.compiled import Rule
from forbear.domain.compliance.config.wording import quiet_span
from forbear.domain.compliance.schema import Channel
from forbear.domain.errors import ValidationError
from forbear.services import audit_trail as trail_service
from forbear.services import complaints as svc
from forbear.services import contacts as contact_service
from forbear.services import lender as lender_service
from forbear.services import templates as template_service
from forbear.services import unmasking
from forbear.services.complaints import desk
from forbear.services.days import book_date
from forbear.services.scope import visible_loans
from forbear.web.deps import state_of
from forbear.web.i18n import Translator, request_lang
from forbear.web.pages.console import ALERT_DAYS, Auditor, Reader, Worker, form_date, render

router = APIRouter(prefix="/compliance")


# ------------------------------------------------------------------------ blocked contacts


@router.get("/blocked")
def blocked(
    request: Request,
    principal: Reader,
    start: Annotated[str | None, Query(max_length=10)] = None,
    end: Annotated[str | None, Query(max_length=10)] = None,
    rule: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """Blocked contacts by rule id (online and in the daily run), with a drill-down."""
    web = state_of(request)
    with web.forbear.transaction() as conn:
        last = form_date(end, "end") or book_date(conn, web.today()) or web.today()
        first = form_date(start, "start") or last - timedelta(days=6)
        first, last = desk.report_window(conn, web.now(), first, last)
        by_rule = svc.blocked_by_rule(conn, first, last).to_dicts()
        items: list[dict[str, Any]] = []
        if rule:
            items = svc.blocked_contacts(conn, rule_id=rule, start=first, end=last).to_dicts()
            # the drill-down names accounts: scope it
            seen = visible_loans(conn, principal.as_actor(), web.now(), web.today())
            items = [i for i in items if seen is None or int(i["loan_id"]) in seen]
        refs = desk.loan_refs(conn, sorted({int(i["loan_id"]) for i in items}))
        rules = contact_service.lender_rules(web.forbear.settings.data_dir, conn)
    texts = {r.id: r for r in rules.rules}
    return render(
        request,
        principal,
        "complaints/blocked.html",
        section="blocked",
        by_rule=by_rule,
        items=items,
        refs=refs,
        rule=rule,
        texts=texts,
        start=first,
        end=last,
    )


# ------------------------------------------------------------------------ rules in force

_CHANNEL_ORDER = [c.value for c in Channel]
SEP = {"zh-CN": "、", "en": ", "}  # between the items of a list, by language
COLON = {"zh-CN": "：", "en": ": "}
# the pack's English words in a rule's source, told in Chinese (ids and numbers stay)
_SOURCE_ZH = [
    (re.compile(r"\barts?\. ([0-9][0-9, \-–]*[0-9])"), r"第\1条"),
    (re.compile(r"\bch\. ([0-9]+)"), r"第\1章"),
    (re.compile(r"law-firm reading of SPC 2017 opinion and NFRA 2025 notice"),
     "律师事务所对最高人民法院 2017 年意见及国家金融监督管理总局 2025 年通知的解读"),
    (re.compile(r"replies vs demands is our inference"), "区分答复与催收系本系统推断"),
    (
        re.compile(r"which category maps to it is our inference"),
        "内容类别与该规则的对应系本系统推断",
    ),
    (re.compile(r"complaint-handling rules 2020"), "2020 年投诉处理规则"),
    (re.compile(r"public-security law"), "《治安管理处罚法》"),
    (re.compile(r"criminal law"), "《刑法》"),
    (re.compile(r"lender policy"), "贷款机构政策"),
    (re.compile(r"default is I"), "默认值系本系统推断"),
    (re.compile(r"\(quiet hours\)"), "（静默时段）"),
    (re.compile(r"\(inconvenient times\)"), "（不便联系的时间）"),
    (re.compile(r"\(complaints\)"), "（投诉）"),
    (re.compile(r"\(lawyer\)"), "（律师代理）"),
    (re.compile(r"\(([0-9]+) years\)"), r"（\1 年）"),
    (re.compile(r"; "), "；"),
]  # fmt: skip


def source_words(source: str, lang: str, titles: dict[str, str]) -> str:
    """A rule's source as its reader reads it: in Chinese, the pack's short ids become the
    titles of the texts they cite and the pack's English words Chinese."""
    if lang != "zh-CN":
        return source
    out = source
    for pattern, words in _SOURCE_ZH:
        out = pattern.sub(words, out)
    for short in sorted(titles, key=len, reverse=True):
        out = re.sub(rf"(?<![A-Za-z0-9-]){re.escape(short)}(?![A-Za-z0-9-])", titles[short], out)
    return out


def confidence_words(confidence: str, t: Translator) -> str:
    """``P / I`` as 「据转述 / 本系统推断，需法务复核」."""
    return " / ".join(t.label("rules.confidence", c.strip()) for c in confidence.split("/"))


def param_words(rule: Rule, t: Translator) -> list[str]:
    """Each effective parameter of ``rule`` in words, in the reader's language."""
    p = rule.params
    sep = SEP[t.lang]

    def channels(value: Any) -> str:
        chosen = sorted({str(c) for c in value}, key=lambda c: (_CHANNEL_ORDER.index(c), c))
        return sep.join(t.label("channel", c) for c in chosen)

    def parties(value: Any) -> str:
        return sep.join(t.label("party", str(x)) for x in sorted(value, key=str))

    out: list[str] = []
    done: set[str] = set()
    if "windows" in p:
        out.append(t("rules.windows", windows=sep.join(str(w) for w in p["windows"])))
        start, end = quiet_span(p["windows"])
        out.append(t("rules.quiet", start=start, end=end))
        if rule.kind == "assistant_quiet_demand":
            out.append(t("rules.narrower"))
        done.add("windows")
    if rule.kind == "hold":
        for hold, scope in p.get("blocks", {}).items():
            label = t.label("rules.hold", hold)
            if isinstance(scope, str):
                out.append(t(f"rules.hold_{scope}", hold=label))
            else:
                out.append(t("rules.hold_channels", hold=label, channels=channels(scope)))
        done.add("blocks")
    if rule.kind == "third_party_gate":
        out.append(t(f"rules.check.{p['check']}", parties=parties(p["parties"])))
        done |= {"check", "parties"}
    if "lawful" in p:
        found = sorted(p["lawful"], key=str)
        out.append(
            t("rules.lawful", sources=sep.join(t.label("rules.provenance", x) for x in found))
        )
        done.add("lawful")
    numbers = {
        "max_attempts": "rules.max_attempts_day",
        "max_connected": "rules.max_connected_day",
        "reply_within_minutes": "rules.reply_within",
        "consecutive_failures": "rules.consecutive_failures",
        "min_years": "rules.min_years",
        "answer_days": "rules.answer_days",
        "extension_days": "rules.extension_days",
        "within_days": "rules.within_days",
        "optout_business_days": "rules.optout_business_days",
    }
    if rule.kind == "cap_calls_in_window":
        out.append(t("rules.max_in_window", n=p["max_attempts"], days=p["window_days"]))
        if p.get("after_conversation_days"):
            out.append(t("rules.after_conversation", n=p["after_conversation_days"]))
        done |= {"max_attempts", "window_days", "after_conversation_days"}
    if "years" in p:
        key = "rules.limitation_years" if rule.kind == "limitation" else "rules.years"
        out.append(t(key, n=p["years"]))
        done.add("years")
    for key, words in numbers.items():
        if key in p and key not in done:
            out.append(t(words, n=p[key]))
            done.add(key)
    if "max_annual_cost_bp" in p:
        out.append(t("rules.max_annual_cost", pct=f"{p['max_annual_cost_bp'] / 100:g}%"))
        done.add("max_annual_cost_bp")
    if rule.kind == "workflow" and "default" in p and rule.id.endswith("RECORD.RETAIN"):
        out.append(t("rules.retain_default"))
        done.add("default")
    if "channels" in p:
        out.append(t("rules.channels", channels=channels(p["channels"])))
        done.add("channels")
    if set(p) - done:
        out.append(t("rules.unknown_param"))
    return out or [t("rules.none")]


@router.get("/rules")
def rules(request: Request, principal: Reader) -> Response:
    """The rule pack in force: each rule with its effective parameters in words and its
    source (the texts are told with the effective numbers at compile time)."""
    web = state_of(request)
    with web.forbear.transaction() as conn:
        compiled = contact_service.lender_rules(web.forbear.settings.data_dir, conn)
        info = lender_service.current(conn)
    t = Translator(request_lang(request))
    return render(
        request,
        principal,
        "complaints/rules.html",
        section="rules",
        compiled=compiled,
        info=info,
        words={r.id: param_words(r, t) for r in compiled.rules},
        sources={r.id: source_words(r.source, t.lang, compiled.sources) for r in compiled.rules},
        confidence={r.id: confidence_words(r.confidence, t) for r in compiled.rules},
    )


# ------------------------------------------------------------------------ audit trail

AUDIT_PREFIXES = ("web", "api", "cli", "portal", "system", "demo")


def actor_words(name: str, t: Translator) -> Markup:
    """``web:agent1`` as 「网页：agent1」, ``system:daily-run`` as 「系统：daily-run」; the
    name itself is marked as not to be translated (a username, a process's name)."""
    prefix, _, rest = name.partition(":")
    if prefix in AUDIT_PREFIXES:
        label = t(f"audit.actor.{prefix}")
        if not rest:
            return Markup.escape(label)
        return Markup('{}{}<span translate="no">{}</span>').format(label, COLON[t.lang], rest)
    return Markup('<span translate="no">{}</span>').format(name)


def _trail_filter(
    start: str | None,
    end: str | None,
    actor: str | None,
    action: str | None,
    subject_type: str | None,
    zone: str,
) -> trail_service.TrailFilter:
    return trail_service.TrailFilter(
        start=form_date(start, "start"),
        end=form_date(end, "end"),
        actor=(actor or "").strip() or None,
        action=(action or "").strip() or None,
        subject_type=(subject_type or "").strip() or None,
        zone=zone,
    )


Start = Annotated[str | None, Query(max_length=10)]
Text64 = Annotated[str | None, Query(max_length=64)]


@router.get("/audit")
def audit_trail(
    request: Request,
    principal: Auditor,
    page_no: Annotated[int, Query(alias="page", ge=1, le=1_000_000)] = 1,
    start: Start = None,
    end: Start = None,
    actor: Text64 = None,
    action: Text64 = None,
    subject_type: Text64 = None,
    verify: Annotated[bool, Query()] = False,
) -> Response:
    """The audit trail, newest first, paginated, filtered by dates, actor, action and
    subject; ``verify`` checks the whole hash chain; the same selection exports as CSV."""
    web = state_of(request)
    zone = web.forbear.settings.zone
    chosen = _trail_filter(start, end, actor, action, subject_type, str(zone))
    with web.forbear.transaction() as conn:
        trail = trail_service.page(
            conn, principal.as_actor(), page_no=page_no, verify=verify, chosen=chosen
        )
        known = trail_service.actions(conn, principal.as_actor())
        kinds = trail_service.subject_types(conn, principal.as_actor())
    t = Translator(request_lang(request))
    query = urlencode(
        {
            k: v
            for k, v in {
                "start": chosen.start.isoformat() if chosen.start else "",
                "end": chosen.end.isoformat() if chosen.end else "",
                "actor": chosen.actor or "",
                "action": chosen.action or "",
                "subject_type": chosen.subject_type or "",
            }.items()
            if v
        }
    )
    return render(
        request,
        principal,
        "complaints/audit.html",
        section="audit",
        rows=trail.rows,
        total=trail.total,
        page_no=page_no,
        pages=trail.pages,
        chosen=chosen,
        known_actions=known,
        subject_types=kinds,
        query=query,
        actor_words=lambda name: actor_words(name, t),
        result=trail.verified,
        zone=zone,
    )


@router.get("/audit.csv")
def audit_export(
    request: Request,
    principal: Auditor,
    start: Start = None,
    end: Start = None,
    actor: Text64 = None,
    action: Text64 = None,
    subject_type: Text64 = None,
) -> Response:
    """The chosen events as CSV (formula-safe cells; audited as ``audit.export``)."""
    web = state_of(request)
    chosen = _trail_filter(start, end, actor, action, subject_type, str(web.forbear.settings.zone))
    with web.forbear.transaction() as conn:
        text = trail_service.export_csv(conn, principal.as_actor(), chosen, now=web.now())
    name = f"audit-{web.today().isoformat()}.csv"
    return Response(
        content=text.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
            "Cache-Control": "no-store",
        },
    )


# ------------------------------------------------------------------------ template review


def _review(conn: Connection) -> list[dict[str, Any]]:
    reviewed: list[dict[str, Any]] = []
    for info in template_service.list_templates(conn):
        findings = template_service.check_body(
            info.body, channel=info.channel, audience=info.audience, lang=info.lang
        )
        reviewed.append({"info": info, "findings": findings})
    reviewed.sort(key=lambda r: (not r["findings"], r["info"].code, -r["info"].version))
    return reviewed


@router.get("/templates")
def templates(request: Request, principal: Worker) -> Response:
    """Every stored template version with the content filter's findings (flagged first)."""
    web = state_of(request)
    with web.forbear.transaction() as conn:
        reviewed = _review(conn)
    return render(
        request,
        principal,
        "complaints/templates.html",
        section="templates",
        reviewed=reviewed,
        draft=None,
        channels=[c.value for c in Channel],
    )


@router.post("/templates/check")
def check_draft(
    request: Request,
    principal: Worker,
    body: Annotated[str, Form(max_length=5000)],
    channel: Annotated[str, Form()] = "sms",
    audience: Annotated[str, Form()] = "debtor",
    lang: Annotated[str, Form()] = "zh",
) -> Response:
    """Check a draft text with the content filter; nothing is stored."""
    if not body.strip():
        raise ValidationError("body", "must not be empty")
    findings = template_service.check_body(body, channel=channel, audience=audience, lang=lang)
    web = state_of(request)
    with web.forbear.transaction() as conn:
        reviewed = _review(conn)
    return render(
        request,
        principal,
        "complaints/templates.html",
        section="templates",
        reviewed=reviewed,
        draft={"body": body, "channel": channel, "audience": audience, "lang": lang},
        findings=findings,
        channels=[c.value for c in Channel],
    )


# ------------------------------------------------------------------------ unmask alerts


@router.get("/unmasking")
def unmask_alerts(request: Request, principal: Worker) -> Response:
    """Staff refused by the unmask throttle in the last :data:`ALERT_DAYS` days: who, when,
    how often, which limit (no borrower data; :mod:`forbear.services.unmasking`)."""
    web = state_of(request)
    with web.forbear.transaction() as conn:
        found = unmasking.alerts(conn, web.now() - timedelta(days=ALERT_DAYS))
    return render(
        request,
        principal,
        "complaints/unmasking.html",
        section="unmasking",
        alerts=found,
        days=ALERT_DAYS,
        zone=web.forbear.settings.zone,
    )
