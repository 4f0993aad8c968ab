"""Lawful third-party location on the account page and the API (issue 17, item 3): the
contact form offers a purpose with the no-disclosure script; a location call to an
emergency contact is explained whether allowed or blocked; a refusal holds that contact
point and the page says so; a bad purpose is refused with nothing written. On SQLite and
PostgreSQL (the ``built`` fixture)."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, insert, select

from forbear.services import contacts as svc
from forbear.store.contacts import ContactAttempt, Hold
from forbear.store.crypto import Contexts
from forbear.store.models import ContactPoint, Loan


def _emergency_point(db, loan_id: int) -> int:  # type: ignore[no-untyped-def]
    """The borrower's emergency contact (added when the demo borrower has none)."""
    borrower = db.conn.execute(select(Loan.borrower_id).where(Loan.id == loan_id)).scalar_one()
    found = db.conn.execute(
        select(ContactPoint.id).where(
            ContactPoint.borrower_id == borrower, ContactPoint.owner_type == "emergency_contact"
        )
    ).first()
    if found is not None:
        return int(found[0])
    number = "13800002222"
    return int(
        db.conn.execute(
            insert(ContactPoint)
            .values(
                borrower_id=borrower,
                kind="phone",
                value_enc=db.vault.encrypt(number, context=Contexts.CONTACT_VALUE),
                value_bidx=db.vault.blind_index("phone", number),
                owner_type="emergency_contact",
                relation="friend",
                provenance="supplied_by_debtor",
            )
            .returning(ContactPoint.id)
        ).scalar_one()
    )


def _attempts(db) -> int:  # type: ignore[no-untyped-def]
    return int(db.conn.execute(select(func.count()).select_from(ContactAttempt)).scalar_one())


def _contact(agent, loan_id: int, point: int, purpose: str, lang: str = ""):  # type: ignore[no-untyped-def]
    query = f"?lang={lang}" if lang else ""
    return agent.post(
        f"/accounts/{loan_id}/contact{query}",
        data={"channel": "call", "contact_point_id": str(point), "purpose": purpose},
        follow_redirects=False,
    )


def test_the_contact_form_offers_a_purpose_and_the_location_script(  # type: ignore[no-untyped-def]
    sign_in, book
) -> None:
    agent = sign_in("agent1")
    page = agent.get(f"/accounts/{book.queue_loan}")
    assert page.status_code == 200
    form = page.text.split('id="contact-form"', 1)[1].split("</form>", 1)[0]
    assert 'name="purpose" value="collect"  checked' in form or (
        'value="collect"' in form and "checked" in form.split('value="locate"')[0]
    )
    assert 'value="locate"' in form and "寻址：请第三人转告债务人回电（不谈债务）" in form
    script = page.text.split('id="locate-script"', 1)[1].split("</details>", 1)[0]
    assert "寻址话术（不披露债务）" in script and "转告其尽快回电" in script
    for word in ("欠款", "逾期", "还款", "金额"):
        assert word not in script


def test_a_location_call_is_explained_blocked_then_allowed_and_a_refusal_holds_the_point(  # type: ignore[no-untyped-def]
    sign_in, book, db, clock
) -> None:
    agent = sign_in("agent1")
    point = _emergency_point(db, book.queue_loan)
    # collect to a third party: blocked, explained, with the location alternative
    made = _contact(agent, book.queue_loan, point, "collect")
    assert made.status_code == 303, made.text
    page = agent.get(made.headers["location"])
    reasons = page.text.split('id="block-reasons"', 1)[1].split("</ul>", 1)[0]
    assert "CN.3P.NO_UNRELATED" in reasons and "寻址（不谈债务）" in reasons

    # the debtor is not known to be unreachable: a location call waits for the gate
    svc.set_account_flags(
        db.conn,
        loan_id=book.queue_loan,
        actor="test",
        at=clock.now + timedelta(minutes=1),
        debtor_unreachable_since=clock.now + timedelta(minutes=1),
    )
    waiting = agent.get(_contact(agent, book.queue_loan, point, "locate").headers["location"])
    assert "CN.3P.LOST_CONTACT_GATE" in waiting.text.split('id="block-reasons"', 1)[1]

    # once unreachable: allowed, with the rules that let it through and the script
    clock.now += timedelta(minutes=5)
    allowed = _contact(agent, book.queue_loan, point, "locate", lang="en")
    attempt = int(re.search(r"attempt=(\d+)", allowed.headers["location"]).group(1))  # type: ignore[union-attr]
    shown = agent.get(allowed.headers["location"])
    decision = shown.text.split('id="decision"', 1)[1].split("</section>", 1)[0]
    assert 'id="allow-reasons"' in decision, decision
    for rid in ("CN.3P.LOST_CONTACT_GATE", "CN.3P.NO_DISCLOSE", "CN.3P.NO_UNRELATED"):
        assert rid in decision
    assert 'id="locate-script-used"' in decision and 'id="locate-refusal-hint"' in decision
    stored = db.conn.execute(
        select(ContactAttempt.purpose, ContactAttempt.is_demand).where(ContactAttempt.id == attempt)
    ).one()
    assert tuple(stored) == ("locate", False)

    # the person will not pass the message on: a refusal holds that point only
    done = agent.post(
        f"/accounts/{book.queue_loan}/attempts/{attempt}/outcome",
        data={"outcome": "refusal"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and "hold=" in done.headers["location"]
    hold = int(re.search(r"hold=(\d+)", done.headers["location"]).group(1))  # type: ignore[union-attr]
    assert (
        db.conn.execute(select(Hold.contact_point_id).where(Hold.id == hold)).scalar_one() == point
    )
    after = agent.get(done.headers["location"])
    assert "This contact person is on hold" in after.text  # the page is in English now
    assert 'data-purpose="locate"' in after.text  # the timeline says it was a location call


def test_a_bad_purpose_is_refused_and_nothing_is_written(  # type: ignore[no-untyped-def]
    sign_in, book, db
) -> None:
    agent = sign_in("agent1")
    point = _emergency_point(db, book.queue_loan)
    before = _attempts(db)
    bad = _contact(agent, book.queue_loan, point, "threaten")
    assert bad.status_code == 422
    api = agent.post(
        f"/api/v1/accounts/{book.queue_loan}/contacts",
        json={"channel": "call", "contact_point_id": point, "purpose": "threaten"},
    )
    assert api.status_code == 422 and "purpose" in api.text
    assert _attempts(db) == before
    located = agent.post(
        f"/api/v1/accounts/{book.queue_loan}/contacts",
        json={"channel": "call", "contact_point_id": point, "purpose": "locate"},
    )
    assert located.status_code == 201, located.text
    body = located.json()
    assert body["purpose"] == "locate" and body["explanation"]
    assert any("CN.3P.LOST_CONTACT_GATE" in line for line in body["explanation"])
