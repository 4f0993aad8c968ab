"""Sending from the workbench (issue 13, item 5) on SQLite and PostgreSQL: what an agent
may send to a borrower, the rendered preview with the gate's answer now, send (gate first,
one outbox row per request id, audited), scope and permission, and the message on the
account's timeline and correspondence with its status.

The book comes through the real import (:func:`factories.import_three_loans`): L0001 and
L0002 belong to C0001 (张伟, a mobile, no e-mail), L0003 to C0002; the shipped template
library is installed and approved.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Connection, func, select

from clocks import SETUP_AT
from factories import import_three_loans
from forbear.domain.access import Actor, Role
from forbear.domain.compliance.config import CompiledRules, default_rules
from forbear.domain.errors import Conflict, NotFound, PermissionDenied, ValidationError
from forbear.services import contacts
from forbear.services import templates as template_service
from forbear.services.accounts import history
from forbear.services.contacts import ContactBlocked
from forbear.services.outreach import compose, correspondence, dispatch
from forbear.store.audit import AuditEvent
from forbear.store.contacts import ContactAttempt
from forbear.store.crypto import PiiVault
from forbear.store.runs import OutboxMessage

SHANGHAI = ZoneInfo("Asia/Shanghai")
URL = "https://portal.example.cn"
AGENT = Actor(name="web:li.agent", role=Role.AGENT, user_id=3)
LEGAL = Actor(name="web:wang.legal", role=Role.LEGAL, user_id=5)
OFFICER = Actor(name="web:zhao.compliance", role=Role.COMPLIANCE_OFFICER, user_id=6)


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).astimezone(UTC)


DAYTIME = local("2026-11-20 10:00")
NIGHT = local("2026-11-20 22:30")
DAY = date(2026, 11, 20)


@pytest.fixture
def rules() -> CompiledRules:
    return default_rules()  # CN, 08:00-21:00 in the debtor's zone


@pytest.fixture
def book(connection: Connection, vault: PiiVault, tmp_path: Path) -> dict[str, int]:
    ids = import_three_loans(connection, vault, tmp_path)
    template_service.install_library(connection, now=SETUP_AT)
    return ids


def _preview(
    conn: Connection, vault: PiiVault, rules: CompiledRules, loan_id: int, **kw: object
) -> compose.Preview:
    args: dict[str, object] = {"now": DAYTIME, "today": DAY, "public_url": URL}
    args.update(kw)
    return compose.preview(conn, vault, rules, AGENT, loan_id, **args)  # type: ignore[arg-type]


def _send(
    conn: Connection,
    vault: PiiVault,
    rules: CompiledRules,
    loan_id: int,
    request_id: str,
    actor: Actor = AGENT,
    **kw: object,
) -> compose.Sent:
    args: dict[str, object] = {
        "channel": "sms",
        "template": "CN.M1.REMIND.SMS",
        "now": DAYTIME,
        "today": DAY,
        "public_url": URL,
    }
    args.update(kw)
    return compose.send(
        conn,
        vault,
        rules,
        actor,
        loan_id,
        request_id=request_id,
        **args,  # type: ignore[arg-type]
    )


def _outbox(conn: Connection) -> list[OutboxMessage]:
    return list(conn.execute(select(OutboxMessage).order_by(OutboxMessage.id)).all())


def _audits(conn: Connection, action: str) -> list[AuditEvent]:
    return list(conn.execute(select(AuditEvent).where(AuditEvent.action == action)).all())


# ------------------------------------------------------------------------------ choices


def test_choices_say_per_channel_whether_the_borrower_can_be_reached_and_what_may_go(
    connection: Connection, book: dict[str, int]
) -> None:
    found = compose.choices(connection, AGENT, book["L0001"], now=DAYTIME, today=DAY)
    by_channel = {c.channel: c for c in found.channels}
    assert list(by_channel) == ["sms", "email", "app_push", "im", "ai_call", "letter"]
    assert by_channel["sms"].reachable  # the debtor's mobile
    assert by_channel["email"].unreachable == "no_contact_point"  # imported without one
    assert by_channel["letter"].reachable  # the address on file
    sms_codes = {t.code for t in by_channel["sms"].templates}
    assert {"CN.M1.REMIND.SMS", "CN.PREDUE.SMS", "CN.PLAN.OFFER.SMS"} <= sms_codes
    assert all(t.code.endswith("PUSH") for t in by_channel["app_push"].templates)
    assert "CN.M1.CALLBACK" not in {t.code for c in found.channels for t in c.templates}
    assert {a.slug for a in by_channel["sms"].articles} >= {"rights-in-collection", "budgeting"}
    assert by_channel["ai_call"].articles == () and by_channel["letter"].articles == ()

    contacts.add_hold(
        connection,
        loan_id=book["L0001"],
        kind="opt_out",
        channel="sms",
        actor="portal:borrower:1",
        since=local("2026-11-19 09:00"),
    )
    again = compose.choices(connection, AGENT, book["L0001"], now=DAYTIME, today=DAY)
    assert again.channel("sms") is not None
    assert again.channel("sms").unreachable == "opted_out"  # type: ignore[union-attr]


# ------------------------------------------------------------------------------ preview


def test_preview_renders_the_borrowers_text_and_says_the_gate_allows_it_now(
    connection: Connection, vault: PiiVault, rules: CompiledRules, book: dict[str, int]
) -> None:
    shown = _preview(
        connection, vault, rules, book["L0001"], channel="sms", template="CN.M1.REMIND.SMS"
    )
    assert shown.refused == ()
    assert shown.gate.allowed and shown.gate.blocked_by == ()
    assert shown.sendable
    assert "张*" in shown.body and "张伟" not in shown.body  # masked on an SMS
    assert "{" not in shown.body and "元" in shown.body
    assert _outbox(connection) == []  # a preview writes nothing


def test_preview_of_an_article_carries_the_signed_portal_link(
    connection: Connection, vault: PiiVault, rules: CompiledRules, book: dict[str, int]
) -> None:
    shown = _preview(connection, vault, rules, book["L0001"], channel="sms", article="budgeting")
    assert shown.refused == () and shown.article == "budgeting"
    assert f"{URL}/portal/sign-in?t=" in shown.body


def test_preview_out_of_hours_shows_the_rule_and_the_earliest_allowed_local_time(
    connection: Connection, vault: PiiVault, rules: CompiledRules, book: dict[str, int]
) -> None:
    shown = _preview(
        connection,
        vault,
        rules,
        book["L0001"],
        channel="sms",
        template="CN.M1.REMIND.SMS",
        now=NIGHT,
        lang="en",
    )
    assert not shown.gate.allowed and not shown.sendable
    assert any(rule.startswith("CN.HOURS") for rule in shown.gate.blocked_by)
    assert shown.gate.earliest_local == "2026-11-21 08:00"
    assert shown.gate.timezone == "Asia/Shanghai"
    assert shown.gate.explanation and any("CN.HOURS" in line for line in shown.gate.explanation)
    assert shown.body  # the text is still shown, it just may not go now


@pytest.mark.parametrize(
    ("channel", "template", "article", "field"),
    [
        ("call", "CN.M1.CALLBACK", None, "channel"),  # an agent's own call, not a message
        ("fax", "CN.M1.REMIND.SMS", None, "channel"),
        ("sms", None, None, "template"),
        ("sms", "CN.M1.REMIND.SMS", "budgeting", "template"),
        ("sms", "CN.PREDUE.PUSH", None, "template"),  # written for app push
        ("ai_call", None, "budgeting", "article"),
    ],
)
def test_bad_choices_are_refused_with_the_field(
    connection: Connection,
    vault: PiiVault,
    rules: CompiledRules,
    book: dict[str, int],
    channel: str,
    template: str | None,
    article: str | None,
    field: str,
) -> None:
    with pytest.raises(ValidationError) as refused:
        _preview(
            connection,
            vault,
            rules,
            book["L0001"],
            channel=channel,
            template=template,
            article=article,
        )
    assert refused.value.field == field


def test_unknown_template_or_article_is_not_found(
    connection: Connection, vault: PiiVault, rules: CompiledRules, book: dict[str, int]
) -> None:
    with pytest.raises(NotFound):
        _preview(connection, vault, rules, book["L0001"], channel="sms", template="NO.SUCH")
    with pytest.raises(NotFound):
        _preview(connection, vault, rules, book["L0001"], channel="sms", article="no-such")


# ------------------------------------------------------------------------------ send


def test_send_queues_one_agent_message_due_now_and_audits_it(
    connection: Connection, vault: PiiVault, rules: CompiledRules, book: dict[str, int]
) -> None:
    sent = _send(connection, vault, rules, book["L0001"], "req-0001-abcdef")
    sent.raise_if_blocked()
    assert sent.created and sent.message is not None
    (row,) = _outbox(connection)
    assert row.id == sent.message.id
    assert (row.origin, row.actor, row.status) == ("agent", AGENT.name, "queued")
    assert (row.channel, row.template, row.article) == ("sms", "CN.M1.REMIND.SMS", None)
    assert row.due_at == DAYTIME and row.next_attempt_at == DAYTIME
    assert row.loan_id == book["L0001"] and row.contact_point_id is not None
    assert row.dedupe_key == compose.message_key(AGENT.name, "req-0001-abcdef")
    assert row.body_enc is None  # the dispatcher stores the text as it sends it
    (event,) = _audits(connection, "outreach.queued")
    assert event.subject_id == str(row.id)
    payload = json.loads(event.payload) if isinstance(event.payload, str) else event.payload
    assert payload["template"] == "CN.M1.REMIND.SMS"
    assert "张伟" not in json.dumps(payload, ensure_ascii=False)
    # nothing was contacted yet: the dispatcher records the contact when it sends
    assert connection.execute(select(func.count()).select_from(ContactAttempt)).scalar_one() == 0


def test_the_same_request_id_queues_once_and_a_different_message_under_it_conflicts(
    connection: Connection, vault: PiiVault, rules: CompiledRules, book: dict[str, int]
) -> None:
    first = _send(connection, vault, rules, book["L0001"], "req-twice-000001")
    again = _send(connection, vault, rules, book["L0001"], "req-twice-000001")
    assert first.created and not again.created
    assert again.message == first.message
    assert len(_outbox(connection)) == 1
    assert len(_audits(connection, "outreach.queued")) == 1
    with pytest.raises(Conflict):
        _send(connection, vault, rules, book["L0001"], "req-twice-000001", template="CN.PREDUE.SMS")
    other = _send(connection, vault, rules, book["L0001"], "req-other-000002")
    assert other.created and len(_outbox(connection)) == 2


@pytest.mark.parametrize(
    "request_id", ["", "short", "x" * 65, "has space 12345", "漢字漢字漢字漢字"]
)
def test_a_bad_request_id_is_refused_and_nothing_is_queued(
    connection: Connection,
    vault: PiiVault,
    rules: CompiledRules,
    book: dict[str, int],
    request_id: str,
) -> None:
    with pytest.raises(ValidationError) as refused:
        _send(connection, vault, rules, book["L0001"], request_id)
    assert refused.value.field == "request_id"
    assert _outbox(connection) == []


def test_send_out_of_hours_is_refused_with_the_rule_ids_and_queues_nothing(
    connection: Connection, vault: PiiVault, rules: CompiledRules, book: dict[str, int]
) -> None:
    sent = _send(connection, vault, rules, book["L0001"], "req-night-000001", now=NIGHT)
    assert sent.message is None and not sent.created
    with pytest.raises(ContactBlocked) as blocked:
        sent.raise_if_blocked()
    assert any(rule.startswith("CN.HOURS") for rule in blocked.value.rule_ids)
    assert blocked.value.earliest_allowed_at == local("2026-11-21 08:00")
    assert _outbox(connection) == []
    (event,) = _audits(connection, "outreach.blocked")
    payload = json.loads(event.payload) if isinstance(event.payload, str) else event.payload
    assert payload["blocked_by"] == list(blocked.value.rule_ids)


def test_send_to_an_opted_out_channel_is_refused(
    connection: Connection, vault: PiiVault, rules: CompiledRules, book: dict[str, int]
) -> None:
    contacts.add_hold(
        connection,
        loan_id=book["L0003"],
        kind="opt_out",
        channel="sms",
        actor="portal:borrower:2",
        since=local("2026-11-19 09:00"),
    )
    sent = _send(connection, vault, rules, book["L0003"], "req-optout-00001")
    assert sent.message is None
    assert sent.gate.blocked_by and sent.gate.earliest_allowed_at is None
    assert _outbox(connection) == []


# ------------------------------------------------------------------------------ scope


def test_an_agent_of_another_agency_gets_not_found_and_changes_nothing(
    connection: Connection, vault: PiiVault, rules: CompiledRules, book: dict[str, int]
) -> None:
    contacts.assign_agency(
        connection, loan_id=book["L0002"], agency_id=5, at=local("2026-11-19 09:00"), actor="t"
    )
    outsider = Actor(name="web:other.agency", role=Role.AGENCY_AGENT, user_id=8, agency_id=6)
    placed = Actor(name="web:the.agency", role=Role.AGENCY_AGENT, user_id=9, agency_id=5)
    for loan in (book["L0001"], book["L0002"]):
        with pytest.raises(NotFound):
            compose.choices(connection, outsider, loan, now=DAYTIME, today=DAY)
        with pytest.raises(NotFound):
            compose.preview(
                connection,
                vault,
                rules,
                outsider,
                loan,
                channel="sms",
                template="CN.M1.REMIND.SMS",
                now=DAYTIME,
                today=DAY,
                public_url=URL,
            )
        with pytest.raises(NotFound):
            _send(connection, vault, rules, loan, "req-outsider-001", actor=outsider)
        with pytest.raises(NotFound):
            correspondence.for_loan(connection, vault, outsider, loan, at=DAYTIME, today=DAY)
    assert _outbox(connection) == []
    assert _audits(connection, "outreach.blocked") == []
    # the agency the loan is placed with may work it (L0001, not placed, stays out)
    with pytest.raises(NotFound):
        _send(connection, vault, rules, book["L0001"], "req-placed-00001", actor=placed)
    sent = _send(connection, vault, rules, book["L0002"], "req-placed-00002", actor=placed)
    # an agency may contact only after the debtor was notified (CN.AGENCY.NOTIFY_DEBTOR)
    assert sent.message is None or sent.message.loan_id == book["L0002"]


def test_a_role_without_contact_make_may_not_send(
    connection: Connection, vault: PiiVault, rules: CompiledRules, book: dict[str, int]
) -> None:
    for actor in (LEGAL, OFFICER):
        with pytest.raises(PermissionDenied):
            _send(connection, vault, rules, book["L0001"], "req-legal-000001", actor=actor)
        with pytest.raises(PermissionDenied):
            compose.choices(connection, actor, book["L0001"], now=DAYTIME, today=DAY)
    assert _outbox(connection) == []


# ------------------------------------------------------------------------------ timeline


def test_a_message_sent_from_the_workbench_is_on_the_timeline_with_its_status(
    connection: Connection, vault: PiiVault, rules: CompiledRules, book: dict[str, int]
) -> None:
    sent = _send(connection, vault, rules, book["L0001"], "req-timeline-001")
    assert sent.message is not None
    events = history.timeline(
        connection, AGENT, book["L0001"], at=DAYTIME, today=DAY, zone=SHANGHAI
    )
    (message,) = [e for e in events if e.kind == "message"]
    assert (message.message_id, message.status, message.origin, message.channel) == (
        sent.message.id,
        "queued",
        "agent",
        "sms",
    )
    assert message.actor == AGENT.name
    # the other loan's timeline does not carry it; the borrower's correspondence does
    other = history.timeline(connection, AGENT, book["L0002"], at=DAYTIME, today=DAY, zone=SHANGHAI)
    assert [e for e in other if e.kind == "message"] == []
    letters = correspondence.for_loan(
        connection, vault, AGENT, book["L0002"], at=DAYTIME, today=DAY
    ).letters
    assert [x.id for x in letters] == [sent.message.id]
    assert letters[0].text is None and not letters[0].text_hidden  # not sent yet

    # the dispatcher sends it and a receipt says delivered; then cancels another
    text = "【还款提醒】张伟您好……"
    connection.execute(
        OutboxMessage.__table__.update()
        .where(OutboxMessage.id == sent.message.id)
        .values(
            status="delivered",
            sent_at=local("2026-11-20 10:00:05"),
            delivered_at=local("2026-11-20 10:00:09"),
            # sealed as the dispatcher seals the text it sent
            body_enc=vault.encrypt(
                json.dumps({"subject": None, "body": text, "params": {}, "lang": "zh"}),
                context=dispatch.BODY_CONTEXT,
            ),
        )
    )
    late = _send(connection, vault, rules, book["L0001"], "req-timeline-002")
    assert late.message is not None
    connection.execute(
        OutboxMessage.__table__.update()
        .where(OutboxMessage.id == late.message.id)
        .values(status="cancelled", reason_rules=json.dumps(["CN.HOLD.DISPUTE"]))
    )
    events = history.timeline(
        connection, AGENT, book["L0001"], at=DAYTIME, today=DAY, zone=SHANGHAI
    )
    statuses = {e.message_id: (e.status, e.reasons) for e in events if e.kind == "message"}
    assert statuses == {
        sent.message.id: ("delivered", ()),
        late.message.id: ("cancelled", ("CN.HOLD.DISPUTE",)),
    }
    seen = {
        x.id: x
        for x in correspondence.for_loan(
            connection, vault, AGENT, book["L0001"], at=DAYTIME, today=DAY
        ).letters
    }
    assert seen[sent.message.id].text == text
    assert seen[late.message.id].reasons == ("CN.HOLD.DISPUTE",)
    # compliance reads the text too; legal sees that there was one, not what it said
    officer = correspondence.for_loan(
        connection, vault, OFFICER, book["L0001"], at=DAYTIME, today=DAY
    ).letters
    assert {x.id: x.text for x in officer}[sent.message.id] == text
    legal = {
        x.id: x
        for x in correspondence.for_loan(
            connection, vault, LEGAL, book["L0001"], at=DAYTIME, today=DAY
        ).letters
    }
    assert legal[sent.message.id].text is None and legal[sent.message.id].text_hidden


def test_the_dispatcher_sends_a_workbench_message_and_the_timeline_shows_it_sent(
    connection: Connection, vault: PiiVault, rules: CompiledRules, book: dict[str, int]
) -> None:
    """The whole path: queued from the workbench, claimed, asked about again and rendered
    by the dispatcher, accepted by the provider; the timeline and the correspondence show
    it sent, with the text as the borrower got it, and it counts as a contact."""
    from forbear.services.outreach import claims
    from forbear.services.outreach.dispatch import SendResult

    shown = _preview(
        connection, vault, rules, book["L0001"], channel="sms", template="CN.M1.REMIND.SMS"
    )
    sent = _send(connection, vault, rules, book["L0001"], "req-dispatch-0001")
    assert sent.message is not None
    later = local("2026-11-20 10:01")
    batch = claims.claim(connection, "w-compose", later, 10)
    assert [c.id for c in batch] == [sent.message.id]
    prepared = dispatch.prepare(
        connection, vault, rules, batch, worker_id="w-compose", now=later, today=DAY,
        public_url=URL,
    )  # fmt: skip
    (ready,) = prepared.ready
    assert ready.message_id == sent.message.dedupe_key  # the provider's idempotency key
    dispatch.finish(
        connection,
        [(ready, SendResult("accepted", "test", "provider-ref-1"))],
        worker_id="w-compose",
        now=later,
    )
    events = history.timeline(connection, AGENT, book["L0001"], at=later, today=DAY, zone=SHANGHAI)
    (message,) = [e for e in events if e.kind == "message"]
    assert (message.message_id, message.status, message.origin) == (
        sent.message.id,
        "sent",
        "agent",
    )
    (letter,) = correspondence.for_loan(
        connection, vault, AGENT, book["L0001"], at=later, today=DAY
    ).letters
    assert letter.status == "sent" and letter.sent_at == later
    assert letter.text == ready.rendered.body == shown.body  # what the preview showed
    attempts = [e for e in events if e.kind == "contact"]
    assert [(a.channel, a.allowed) for a in attempts] == [("sms", True)]


def test_an_agency_agent_s_message_is_sent_and_recorded_for_that_agency(
    connection: Connection, vault: PiiVault, rules: CompiledRules, book: dict[str, int]
) -> None:
    """The outbox keeps the agency of an agency agent's message, so the dispatcher asks
    the gate with the agency rules again at sending and the contact is the agency's."""
    from forbear.services.outreach import claims
    from forbear.services.outreach.dispatch import SendResult

    loan = book["L0002"]
    placed_at = local("2026-11-19 09:00")
    contacts.notify_agency(connection, loan_id=loan, agency_id=5, at=placed_at, actor="t")
    contacts.assign_agency(connection, loan_id=loan, agency_id=5, at=placed_at, actor="t")
    agency = Actor(name="web:the.agency", role=Role.AGENCY_AGENT, user_id=9, agency_id=5)
    sent = _send(connection, vault, rules, loan, "req-agency-00001", actor=agency)
    assert sent.message is not None
    stored = connection.execute(
        select(OutboxMessage.agency_id).where(OutboxMessage.id == sent.message.id)
    ).scalar_one()
    assert stored == 5
    later = local("2026-11-20 10:01")
    (claimed,) = claims.claim(connection, "w-agency", later, 10)
    assert claimed.agency_id == 5
    prepared = dispatch.prepare(
        connection, vault, rules, [claimed], worker_id="w-agency", now=later, today=DAY,
        public_url=URL,
    )  # fmt: skip
    (ready,) = prepared.ready
    dispatch.finish(
        connection, [(ready, SendResult("accepted", "test", "ref-a"))], worker_id="w-agency",
        now=later,
    )  # fmt: skip
    (attempt,) = connection.execute(
        select(ContactAttempt.agency_id, ContactAttempt.actor, ContactAttempt.allowed).where(
            ContactAttempt.loan_id == loan, ContactAttempt.created_at == later
        )
    ).all()
    assert tuple(attempt) == (5, "web:the.agency", True)
