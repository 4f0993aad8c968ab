"""Lawful third-party location (issue 17, item 3), through the contact services, on SQLite
and PostgreSQL.

A ``locate`` contact asks an emergency contact to have the debtor call back, with no word
of the debt: allowed only once the debtor is unreachable (CN.3P.LOST_CONTACT_GATE) and with
the no-disclosure script (CN.3P.NO_DISCLOSE); a ``collect`` contact to a third party stays
blocked (CN.3P.NO_UNRELATED); a refusal holds that contact point only (CN.3P.REFUSAL); the
debtor's daily caps count location calls; every answer is explained with its rule ids.

The book: L0001 and L0002 belong to C0001 (a debtor mobile and an emergency contact).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Connection, Engine, func, select

from databases import migrated_pg, migrated_sqlite
from factories import import_three_loans
from forbear.domain.compliance.config import CompiledRules, default_rules
from forbear.domain.errors import ValidationError
from forbear.services import contacts as svc
from forbear.services import templates
from forbear.store.audit import AuditEvent
from forbear.store.contacts import ContactAttempt, Hold
from forbear.store.crypto import PiiVault
from forbear.store.db import make_engine
from forbear.store.models import ContactPoint
from parallel import parallel

SHANGHAI = ZoneInfo("Asia/Shanghai")
ACTOR = "agent:7"
KEY = bytes(range(32))


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).astimezone(UTC)


@pytest.fixture
def rules() -> CompiledRules:
    return default_rules()


def _points(conn: Connection, ids: dict[str, int]) -> dict[str, int]:
    first = conn.execute(select(func.min(ContactPoint.borrower_id))).scalar_one()
    for p in conn.execute(
        select(ContactPoint.id, ContactPoint.owner_type, ContactPoint.borrower_id)
    ).all():
        if p.owner_type == "emergency_contact":
            ids["emergency"] = p.id
        elif p.borrower_id == first:
            ids["debtor_mobile"] = p.id
    return ids


@pytest.fixture
def book(connection: Connection, vault: PiiVault, tmp_path: Path) -> dict[str, int]:
    return _points(connection, import_three_loans(connection, vault, tmp_path))


def count(conn: Connection, what: Any) -> int:
    return int(conn.execute(select(func.count()).select_from(what)).scalar_one())


def fail_debtor(conn: Connection, book: dict[str, int], rules: CompiledRules, day: str) -> None:
    """Three unanswered dials on the debtor's own number on ``day``."""
    for hour in (9, 10, 11):
        made = svc.request_contact(
            conn,
            loan_id=book["L0001"],
            channel="call",
            at=local(f"{day} {hour:02}:00"),
            actor=ACTOR,
            rules=rules,
        )
        assert made.allowed and made.attempt_id is not None, made.blocked_by
        svc.record_outcome(conn, made.attempt_id, "no_answer", ACTOR)


def locate(
    conn: Connection, book: dict[str, int], rules: CompiledRules, when: str, **kw: Any
) -> svc.ContactDecision:
    return svc.request_contact(
        conn,
        loan_id=book["L0001"],
        channel=kw.pop("channel", "call"),
        contact_point_id=kw.pop("contact_point_id", book["emergency"]),
        at=local(when),
        actor=ACTOR,
        rules=rules,
        purpose=kw.pop("purpose", "locate"),
        **kw,
    )


def lines(decision: svc.ContactDecision, rules: CompiledRules, lang: str = "zh") -> str:
    from forbear.domain.compliance.gate import explain

    return "\n".join(explain(decision.row, rules, lang))  # type: ignore[arg-type]


def test_locate_before_the_debtor_is_unreachable_is_blocked_with_the_rule_explained(
    connection: Connection, book: dict[str, int], rules: CompiledRules
) -> None:
    blocked = locate(connection, book, rules, "2026-03-10 10:00")
    assert not blocked.allowed
    assert blocked.blocked_by == ("CN.3P.LOST_CONTACT_GATE",)  # no demand, nothing disclosed
    zh, en = lines(blocked, rules, "zh"), lines(blocked, rules, "en")
    assert "CN.3P.LOST_CONTACT_GATE" in zh and "债务人尚未失联" in zh
    assert "not unreachable yet" in en
    stored = connection.execute(
        select(ContactAttempt.purpose, ContactAttempt.is_demand, ContactAttempt.allowed).where(
            ContactAttempt.id == blocked.attempt_id
        )
    ).one()
    assert tuple(stored) == ("locate", False, False)


def test_locate_after_three_failed_dials_is_allowed_the_next_day_with_the_script(
    connection: Connection, book: dict[str, int], rules: CompiledRules
) -> None:
    fail_debtor(connection, book, rules, "2026-03-09")
    same_day = svc.evaluate_contact(
        connection,
        loan_id=book["L0001"],
        channel="call",
        contact_point_id=book["emergency"],
        at=local("2026-03-09 15:00"),
        rules=rules,
        purpose="locate",
    )
    assert same_day.blocked_by == ("CN.3P.LOST_CONTACT_GATE",)
    assert same_day.earliest_allowed_at == local("2026-03-10 08:00")  # "from the next day"
    allowed = locate(connection, book, rules, "2026-03-10 10:00")
    assert allowed.allowed, allowed.blocked_by
    assert allowed.purpose.value == "locate"
    zh, en = lines(allowed, rules, "zh"), lines(allowed, rules, "en")
    for rid in ("CN.3P.LOST_CONTACT_GATE", "CN.3P.NO_DISCLOSE", "CN.3P.NO_UNRELATED"):
        assert rid in zh and rid in en
    assert "不披露债务的话术" in zh and "no-disclosure script" in en
    event = connection.execute(
        select(AuditEvent.payload).where(
            AuditEvent.subject_id == str(allowed.attempt_id),
            AuditEvent.action == "contact.attempt",
        )
    ).scalar_one()
    payload = json.loads(event) if isinstance(event, str) else event
    assert payload["purpose"] == "locate"


def test_collect_to_a_third_party_stays_blocked_even_when_the_debtor_is_unreachable(
    connection: Connection, book: dict[str, int], rules: CompiledRules
) -> None:
    svc.set_account_flags(
        connection,
        loan_id=book["L0001"],
        actor=ACTOR,
        at=local("2026-03-01 09:00"),
        debtor_unreachable_since=local("2026-03-01 09:00"),
    )
    collect = locate(connection, book, rules, "2026-03-10 10:00", purpose="collect")
    assert not collect.allowed
    assert "CN.3P.NO_UNRELATED" in collect.blocked_by
    assert "寻址（不谈债务）" in lines(collect, rules, "zh")
    # the same call as a location contact goes through
    assert locate(connection, book, rules, "2026-03-10 10:05").allowed


def test_a_message_without_the_no_disclosure_script_is_blocked(
    connection: Connection, book: dict[str, int], rules: CompiledRules
) -> None:
    svc.set_account_flags(
        connection,
        loan_id=book["L0001"],
        actor=ACTOR,
        at=local("2026-03-01 09:00"),
        debtor_unreachable_since=local("2026-03-01 09:00"),
    )
    templates.save_template(
        connection,
        "REMIND_DEBTOR",
        "sms",
        "debtor",
        "zh",
        "您好，您本期账单已到期，请及时还款。",
        now=local("2026-03-01 09:00"),
    )
    templates.approve_template(connection, "REMIND_DEBTOR", now=local("2026-03-01 09:00"))
    templates.save_template(
        connection,
        "LOCATE_SMS",
        "sms",
        "third_party",
        "zh",
        "您好，我们有事需要联系您的一位亲友本人，方便时请转告其回电。谢谢。",
        now=local("2026-03-01 09:00"),
    )
    templates.approve_template(connection, "LOCATE_SMS", now=local("2026-03-01 09:00"))
    sms = {"channel": "sms"}
    # no template: what is sent is unknown, so it counts as disclosing
    unknown = locate(connection, book, rules, "2026-03-10 10:00", **sms)
    assert unknown.blocked_by == ("CN.3P.NO_DISCLOSE",)
    debtor_text = locate(
        connection, book, rules, "2026-03-10 10:01", template_code="REMIND_DEBTOR", **sms
    )
    assert debtor_text.blocked_by == ("CN.3P.NO_DISCLOSE",)
    assert "寻址话术" in lines(debtor_text, rules, "zh")
    clean = locate(connection, book, rules, "2026-03-10 10:02", template_code="LOCATE_SMS", **sms)
    assert clean.allowed, clean.blocked_by
    before = count(connection, ContactAttempt)
    with pytest.raises(ValidationError, match="template_code"):
        locate(connection, book, rules, "2026-03-10 10:03", template_code="NO_SUCH", **sms)
    assert count(connection, ContactAttempt) == before


@pytest.mark.parametrize(
    ("purpose", "point", "field"),
    [("find", "emergency", "purpose"), ("locate", "debtor_mobile", "purpose")],
)
def test_a_bad_purpose_is_refused_and_nothing_is_written(
    connection: Connection,
    book: dict[str, int],
    rules: CompiledRules,
    purpose: str,
    point: str,
    field: str,
) -> None:
    before = (count(connection, ContactAttempt), count(connection, AuditEvent))
    with pytest.raises(ValidationError) as caught:
        locate(
            connection,
            book,
            rules,
            "2026-03-10 10:00",
            purpose=purpose,
            contact_point_id=book[point],
        )
    assert caught.value.field == field
    assert (count(connection, ContactAttempt), count(connection, AuditEvent)) == before


def test_a_refusal_holds_that_contact_point_only_until_released(
    connection: Connection, book: dict[str, int], rules: CompiledRules
) -> None:
    svc.set_account_flags(
        connection,
        loan_id=book["L0001"],
        actor=ACTOR,
        at=local("2026-03-01 09:00"),
        debtor_unreachable_since=local("2026-03-01 09:00"),
    )
    made = locate(connection, book, rules, "2026-03-10 10:00")
    assert made.allowed and made.attempt_id is not None
    result = svc.record_outcome(connection, made.attempt_id, "refused", ACTOR)
    assert result.hold_id is not None
    hold = connection.execute(
        select(Hold.contact_point_id, Hold.kind).where(Hold.id == result.hold_id)
    ).one()
    assert hold.contact_point_id == book["emergency"] and hold.kind == "do_not_contact"
    again = locate(connection, book, rules, "2026-03-11 10:00")
    assert not again.allowed and "CN.3P.REFUSAL" in again.blocked_by
    assert "不得再拨打此号码" in lines(again, rules, "zh")
    # the debtor's own number is not held
    own = svc.evaluate_contact(
        connection, loan_id=book["L0001"], channel="call", at=local("2026-03-11 10:00"), rules=rules
    )
    assert own.allowed, own.blocked_by
    # released the usual way: the point may be called again
    svc.release_hold(connection, result.hold_id, actor="supervisor:1", at=local("2026-03-12 09:00"))
    after = locate(connection, book, rules, "2026-03-12 10:00")
    assert after.allowed, after.blocked_by


def test_location_calls_count_against_the_debtors_daily_caps(
    connection: Connection, book: dict[str, int], rules: CompiledRules
) -> None:
    svc.set_account_flags(
        connection,
        loan_id=book["L0001"],
        actor=ACTOR,
        at=local("2026-03-01 09:00"),
        debtor_unreachable_since=local("2026-03-01 09:00"),
    )
    answers = [locate(connection, book, rules, f"2026-03-10 10:0{i}") for i in range(4)]
    assert [a.allowed for a in answers] == [True, True, True, False]  # pending count
    assert "CN.FREQ.CONNECTED" in answers[3].blocked_by


# --- parallel clients ---------------------------------------------------------------------

THREADS = 12


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def committed(
    request: pytest.FixtureRequest, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Engine, dict[str, int]]]:
    """A database of its own with the book committed (the threads must see it)."""
    if request.param == "sqlite":
        migrated_sqlite(tmp_path_factory, tmp_path / "locate.db")
        engine = make_engine(f"sqlite:///{tmp_path / 'locate.db'}")
        try:
            yield engine, _committed_book(engine, tmp_path)
        finally:
            engine.dispose()
        return
    with migrated_pg(
        tmp_path_factory, "forbear_locate_race", pool_size=THREADS, max_overflow=5
    ) as engine:
        yield engine, _committed_book(engine, tmp_path)


def _committed_book(engine: Engine, folder: Path) -> dict[str, int]:
    with engine.begin() as conn:
        ids = _points(conn, import_three_loans(conn, PiiVault(KEY), folder))
        svc.set_account_flags(
            conn,
            loan_id=ids["L0001"],
            actor=ACTOR,
            at=local("2026-03-01 09:00"),
            debtor_unreachable_since=local("2026-03-01 09:00"),
        )
    return ids


def test_parallel_location_calls_do_not_exceed_the_cap(
    committed: tuple[Engine, dict[str, int]], rules: CompiledRules
) -> None:
    engine, ids = committed

    def call(i: int) -> svc.ContactDecision:
        with engine.begin() as conn:
            return locate(conn, ids, rules, f"2026-03-10 10:00:{i:02d}")

    results = parallel(THREADS, call)
    assert [r for r in results if isinstance(r, Exception)] == []
    assert sum(1 for r in results if r.allowed) == 3
    assert all("CN.FREQ.CONNECTED" in r.blocked_by for r in results if not r.allowed)
    with engine.connect() as conn:
        stored = conn.execute(
            select(func.count()).where(
                ContactAttempt.allowed.is_(True), ContactAttempt.purpose == "locate"
            )
        ).scalar_one()
    assert stored == 3
