"""The unmask throttle (issue 11, finding 10): a staff member unmasks at most so many
different borrowers per minute and per day, exactly, under parallel requests, through the
real app on a committed database (SQLite and PostgreSQL); refusals are 429 in the user's
language, audited, and listed on the compliance console without borrower data."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from forbear.services import unmasking
from forbear.settings import Settings
from forbear.store.audit import AuditEvent
from forbear.store.models import Loan
from forbear.store.web import StaffUser, UnmaskEvent
from web.live import Live, live_fixture, parallel, staff_client  # noqa: F401 - ``live``

MOBILE = {"field": "mobile", "purpose": "contact"}


def _loans(live: Live, n: int) -> list[int]:
    """``n`` loans of ``n`` different borrowers."""
    return list(
        live.read(
            select(func.min(Loan.id))
            .group_by(Loan.borrower_id)
            .order_by(func.min(Loan.id))
            .limit(n)
        ).scalars()
    )


def _user_id(live: Live, username: str) -> int:
    return int(live.scalar(select(StaffUser.id).where(StaffUser.username == username)))


def _unmask(c: TestClient, loan: int, **headers: str):  # type: ignore[no-untyped-def]
    return c.post(f"/api/v1/accounts/{loan}/unmask", json=MOBILE, headers=headers)


def test_parallel_unmasking_holds_the_limits_exactly_and_shows_on_the_console(
    live: Live,
) -> None:
    app = live.app(unmask_limits={"agent": (5, 8)})
    agent = _user_id(live, "agent1")
    loans = _loans(live, 40)
    clients = [staff_client(app, live, "agent1") for _ in range(30)]
    first = parallel(
        [lambda c=c, loan=loan: _unmask(c, loan) for c, loan in zip(clients, loans, strict=False)]
    )
    assert sorted(a.status_code for a in first) == [200] * 5 + [429] * 25
    refused = [a for a in first if a.status_code == 429]
    assert all(a.json()["error"]["code"] == "rate_limited" for a in refused)
    assert all(1 <= int(a.headers["Retry-After"]) <= 61 for a in refused)
    assert "每分钟最多可查看 5 位借款人" in refused[0].json()["error"]["message"]
    counted = select(func.count()).where(UnmaskEvent.user_id == agent)
    assert live.scalar(counted) == 5
    unmasked = select(func.count()).where(
        AuditEvent.action == "pii.unmask", AuditEvent.actor == "web:agent1"
    )
    assert live.scalar(unmasked) == 5
    throttled = select(AuditEvent.payload).where(
        AuditEvent.action == unmasking.THROTTLED, AuditEvent.subject_id == str(agent)
    )
    payloads = [json.loads(p) for p in live.read(throttled).scalars()]
    assert len(payloads) == 25
    assert all(
        p == {"role": "agent", "window": "minute", "limit": 5, "borrowers": 5} for p in payloads
    )

    # a borrower already shown this minute is no new borrower
    shown = [loan for loan, a in zip(loans, first, strict=False) if a.status_code == 200]
    values = {a.json()["value"] for a in first if a.status_code == 200}
    assert _unmask(clients[0], shown[0]).status_code == 200
    # a field the role may not see is refused as before (403), not counted
    forbidden = clients[0].post(
        f"/api/v1/accounts/{loans[39]}/unmask", json={"field": "national_id", "purpose": "contact"}
    )
    assert forbidden.status_code == 403

    # a minute later the day's limit (8) leaves three more, exactly
    live.clock.now += timedelta(seconds=61)
    second = parallel(
        [
            lambda c=c, loan=loan: _unmask(c, loan, **{"Accept-Language": "en"})
            for c, loan in zip(clients, loans[30:40], strict=False)
        ]
    )
    assert sorted(a.status_code for a in second) == [200] * 3 + [429] * 7
    day = next(a for a in second if a.status_code == 429).json()["error"]["message"]
    assert "at most 8 borrowers per day" in day
    borrowers = select(func.count(func.distinct(UnmaskEvent.borrower_id))).where(
        UnmaskEvent.user_id == agent
    )
    assert live.scalar(borrowers) == 8

    # the compliance console lists the user, with times and counts, no borrower data
    compliance = staff_client(app, live, "compliance1")
    page = compliance.get("/compliance/unmasking")
    assert page.status_code == 200
    row = re.search(rf'<tr data-user="{agent}">(.*?)</tr>', page.text, re.S)
    assert row is not None
    assert "agent1" in row.group(1)
    assert '<td class="num refusals">32</td>' in row.group(1)
    assert not any(v in page.text for v in values)
    assert 'id="unmask-alert"' in compliance.get("/compliance").text
    assert 'id="console-unmasking"' in compliance.get("/compliance").text
    # an agent does not see the console's alerts
    assert clients[0].get("/compliance/unmasking").status_code == 403


def test_the_account_page_refuses_beyond_the_limit_with_the_reason(live: Live) -> None:
    app = live.app(unmask_limits={"agent": (1, 10)})
    loans = _loans(live, 2)
    c = staff_client(app, live, "agent1")
    csrf = c.headers["X-CSRF-Token"]
    form = MOBILE | {"csrf_token": csrf}
    assert c.post(f"/accounts/{loans[0]}/unmask", data=form).status_code == 200
    refused = c.post(f"/accounts/{loans[1]}/unmask", data=form)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert 'id="unmask-error"' in refused.text
    assert "每分钟最多可查看 1 位借款人" in refused.text
    assert 'id="revealed"' not in refused.text


def test_no_throttled_users_no_alert(live: Live) -> None:
    app = live.app()
    compliance = staff_client(app, live, "compliance1")
    assert 'id="no-unmask-alerts"' in compliance.get("/compliance/unmasking").text
    assert 'id="unmask-alert"' not in compliance.get("/compliance").text


def test_limits_by_role_with_overrides() -> None:
    from forbear.domain.access import Role

    settings = Settings(unmask_limits={"legal": (2, 3)})
    assert unmasking.limits_for(settings, Role.LEGAL) == unmasking.Limits(2, 3)
    default = unmasking.DEFAULT_LIMITS[Role.AGENT]
    assert unmasking.limits_for(settings, Role.AGENT) == unmasking.Limits(*default)
    with pytest.raises(ValueError, match="unknown role"):
        Settings(unmask_limits={"janitor": (1, 1)})


def test_unmask_events_older_than_two_days_are_purged_now_and_then(live: Live) -> None:
    from sqlalchemy import insert

    app = live.app()
    agent = _user_id(live, "agent1")
    old = live.clock.now - timedelta(days=3)
    with live.db.transaction() as conn:
        last = 0
        while last % unmasking.PURGE_EVERY != unmasking.PURGE_EVERY - 1:
            last = conn.execute(
                insert(UnmaskEvent)
                .values(user_id=agent, borrower_id=1, at=old)
                .returning(UnmaskEvent.id)
            ).scalar_one()
    c = staff_client(app, live, "agent1")
    assert _unmask(c, _loans(live, 1)[0]).status_code == 200
    assert live.read(select(UnmaskEvent.at)).scalars().all() == [live.clock.now]
