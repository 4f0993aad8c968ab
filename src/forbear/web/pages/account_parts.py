"""The account page itself (masked personal data, state, scores with reasons, timeline,
the gate's answer to a contact, outcomes), rendered for the routes of
:mod:`forbear.web.pages.accounts` and of :mod:`forbear.web.pages.collection` (which
re-render it with a refusal or a quote).

Other page modules add their part of the page with :func:`account_section` (the
collection pages: promises, plans, scripts), so this module imports none of them: the
account and collection pages no longer import each other.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import Connection

from forbear.domain.access import default_policy
from forbear.domain.compliance.gate import explain
from forbear.domain.compliance.schema import THIRD_PARTIES, Channel, Purpose
from forbear.domain.scripts import locate_script
from forbear.services import contacts as contact_service
from forbear.services import notes, queue
from forbear.services.accounts import history, search, views
from forbear.services.contacts import CollectorOutcome, callbacks
from forbear.services.contacts.holds import attempt_blocking_holds
from forbear.services.days import book_date, queue_date
from forbear.web.deps import gate_lang, state_of
from forbear.web.pages.render import page
from forbear.web.sessions import Principal

# The channels an agent can start from the workbench (letters and visits are planned work).
AGENT_CHANNELS = (Channel.CALL, Channel.SMS, Channel.AI_CALL, Channel.EMAIL, Channel.IM)

Section = Callable[[Request, Connection, Principal, int, date | None], dict[str, Any]]
_SECTIONS: list[Section] = []


def account_section(section: Section) -> Section:
    """Register ``section``: called inside the account page's transaction, after the
    scope check, its dict is added to the page's context."""
    if section not in _SECTIONS:
        _SECTIONS.append(section)
    return section


def local(moment: datetime | None, zone: str) -> str | None:
    """``moment`` as ``YYYY-MM-DD HH:MM`` in ``zone``."""
    return None if moment is None else moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


def account_page(
    request: Request,
    principal: Principal,
    loan_id: int,
    *,
    attempt_id: int | None = None,
    recorded: str | None = None,
    hold_id: int | None = None,
    revealed: dict[str, str] | None = None,
    status_code: int = 200,
    extra: dict[str, Any] | None = None,
) -> Response:
    """One account as ``principal`` may see it (404 outside the scope)."""
    web = state_of(request)
    zone_name = web.forbear.settings.lender_timezone
    actor, now, today = principal.as_actor(), web.now(), web.today()
    with web.forbear.transaction() as conn:
        as_of = book_date(conn, today)
        detail = views.account_detail(conn, web.forbear.vault, actor, loan_id, at=now, as_of=as_of)
        when: dict[str, Any] = {"at": now, "today": today}
        events = history.timeline(
            conn, actor, loan_id, zone=web.forbear.settings.zone, limit=100, **when
        )
        days, due, paid = history.repayment_curve(conn, actor, loan_id, **when)
        run_day = queue_date(conn, today)
        decisions = (
            [] if run_day is None else history.decisions_for(conn, actor, loan_id, run_day, **when)
        )
        attempt = (
            None
            if attempt_id is None
            else history.attempt_of(conn, actor, loan_id, attempt_id, **when)
        )
        sections: dict[str, Any] = {}
        for section in _SECTIONS:
            sections.update(section(request, conn, principal, loan_id, as_of))
        complaints, legal_cases = history.complaints_and_cases(
            conn, actor, loan_id, as_of=as_of or today, **when
        )
        account_notes = notes.notes_of(
            conn, web.forbear.vault, actor, loan_id, now=now, today=today
        )
        booked = callbacks.open_callbacks(conn, actor, now=now, today=today, loan_id=loan_id)
        pending = queue.pending_outcomes(conn, actor, at=now, today=today, loan_id=loan_id)
        loans = search.borrower_loans(conn, web.forbear.vault, actor, loan_id, at=now, as_of=as_of)
        rules = (
            contact_service.lender_rules(web.forbear.settings.data_dir, conn)
            if attempt is not None
            else None
        )
        # a blocked attempt's explanation names the hold that blocked it, if any
        blocking = (
            attempt_blocking_holds(conn, attempt.id, rules)
            if attempt is not None and rules is not None and not attempt.allowed
            else []
        )
    borrower_zone = str(detail.borrower.get("timezone") or zone_name)
    decision: dict[str, Any] | None = None
    if attempt is not None and rules is not None:
        lang = gate_lang(request)
        row = {
            "blocked_by": attempt.blocked_by,
            "earliest_allowed_at": attempt.earliest_allowed_at,
            "holds": blocking,
            "party": attempt.party,
            "purpose": attempt.purpose,
        }
        # an allowed contact with a third party is explained too (issue 17: the rules
        # that let a location contact through and what may be said)
        third_party = attempt.party in {p.value for p in THIRD_PARTIES}
        decision = {
            "id": attempt.id,
            "allowed": attempt.allowed,
            "channel": attempt.channel,
            "party": attempt.party,
            "blocked_by": attempt.blocked_by,
            "outcome": attempt.outcome,
            "purpose": attempt.purpose,
            # the last sentence says when, in UTC: the page says it in the borrower's time
            "explanation": (
                explain(row, rules, lang)[1:]
                if attempt.allowed and third_party
                else []
                if attempt.allowed
                else explain(row, rules, lang)[:-1]
            ),
            "earliest_local": local(attempt.earliest_allowed_at, borrower_zone),
            "zone": borrower_zone,
        }
    purposes = default_policy().purposes(principal.role)
    chart = {
        "kind": "lines",
        "x": [d.isoformat() for d in days],
        "due": [round(v / 100, 2) for v in due],
        "paid": [round(v / 100, 2) for v in paid],
    }
    return page(
        request,
        "account.html",
        principal,
        status_code=status_code,
        d=detail,
        events=events,
        decisions=decisions,
        run_day=run_day,
        decision=decision,
        recorded=recorded,
        hold_id=hold_id,
        revealed=revealed,
        channels=[c.value for c in AGENT_CHANNELS],
        outcomes=[o.value for o in CollectorOutcome],
        contact_purposes=[p.value for p in Purpose],
        locate_lines=[line.text(gate_lang(request), "") for line in locate_script()],
        purposes={p: sorted(f.value for f in fields) for p, fields in purposes.items()},
        chart=chart if days else None,
        local=lambda m: local(m, zone_name),
        complaints=complaints,
        legal_cases=legal_cases,
        notes=account_notes,
        callbacks=booked,
        pending=[p for p in pending if p.attempt_id != attempt_id],
        borrower_loans=loans,
        borrower_total=sum(int(f.overdue_total or 0) for f in loans),
        borrower_zone=borrower_zone,
        local_in=local,
        callback_min=local(now, borrower_zone),
        **sections,
        **(extra or {}),
    )


def pending_attempt(request: Request, principal: Principal, loan_id: int) -> int | None:
    """The latest allowed attempt of ``principal`` on this account still without an
    outcome (the account page then shows its outcome form again), or None."""
    web = state_of(request)
    actor = principal.as_actor()
    with web.forbear.reading() as conn:
        mine = queue.pending_outcomes(conn, actor, at=web.now(), today=web.today())
    found = [p.attempt_id for p in mine if p.loan_id == loan_id]
    return found[-1] if found else None


def zone_of_borrower(request: Request, principal: Principal, loan_id: int) -> str:
    """The time zone of the loan's borrower (the lender's when unknown)."""
    web = state_of(request)
    with web.forbear.reading() as conn:
        detail = views.account_detail(
            conn,
            web.forbear.vault,
            principal.as_actor(),
            loan_id,
            at=web.now(),
            as_of=book_date(conn, web.today()),
        )
    return str(detail.borrower.get("timezone") or web.forbear.settings.lender_timezone)
