"""Staff accounts, sign-in sessions, the unmask throttle and the retention of their records,
as use cases (:mod:`forbear.services.staff`, ``sessions``, ``unmasking``, ``retention``):
whatever front end calls them, in the caller's transaction, with the caller's clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, func, insert, select

from forbear.domain.access import Actor, Role
from forbear.domain.errors import ValidationError
from forbear.services import retention, sessions, staff, unmasking
from forbear.store import audit
from forbear.store.crypto import PiiVault
from forbear.store.web import SignInAttempt, UnmaskEvent

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
PASSWORD = "a long enough secret"


def _key(kind: str, value: str) -> str:
    """The front end's keyed hash, faked: only its being deterministic matters here."""
    return f"{kind}:{value}"


def _transactions(connection: Connection) -> Callable[[], Iterator[Connection]]:
    """Each "transaction" of the use case is a savepoint of the test's connection."""

    @contextmanager
    def transaction() -> Iterator[Connection]:
        with connection.begin_nested():
            yield connection

    return transaction


def test_a_sign_in_opens_a_session_that_identifies_the_staff_member(
    connection: Connection,
) -> None:
    staff.add_staff(
        connection,
        username="zhang.min",
        display_name="张敏",
        role="agent",
        password=PASSWORD,
        actor="test",
        now=NOW,
    )
    opened = sessions.sign_in(
        _transactions(connection),  # type: ignore[arg-type]
        _key,
        username=" Zhang.Min ",
        password=PASSWORD,
        client="203.0.113.9",
        now=NOW,
    )
    assert isinstance(opened, sessions.NewSession)
    found = sessions.from_session(connection, opened.token, NOW + timedelta(minutes=5))
    assert found is not None and found.username == "zhang.min" and found.role is Role.AGENT
    assert found.as_actor().name == "web:zhang.min"
    sessions.sign_out(connection, found, NOW + timedelta(minutes=6))
    assert sessions.from_session(connection, opened.token, NOW + timedelta(minutes=7)) is None
    actions = [e.action for e in audit.events(connection) if e.action.startswith("staff.")]
    assert actions == ["staff.sign_out", "staff.sign_in", "staff.add"]  # newest first


def test_a_wrong_password_is_refused_and_counted_by_keyed_hash_only(
    connection: Connection,
) -> None:
    staff.add_staff(
        connection,
        username="li.qiang",
        display_name="李强",
        role="supervisor",
        password=PASSWORD,
        actor="test",
        now=NOW,
    )
    refused = sessions.sign_in(
        _transactions(connection),  # type: ignore[arg-type]
        _key,
        username="li.qiang",
        password="not the password",
        client="203.0.113.9",
        now=NOW,
    )
    assert isinstance(refused, sessions.Refused) and refused.retry_after is None
    (attempt,) = connection.execute(select(SignInAttempt)).all()
    assert (attempt.username_key, attempt.client_key) == (
        "username:li.qiang",
        "client:203.0.113.9",
    )
    assert attempt.succeeded is False


def test_the_retention_run_forgets_sign_in_attempts_and_unmask_events_past_their_periods(
    connection: Connection, vault: PiiVault
) -> None:
    user = staff.add_staff(
        connection, username="wang.fang", display_name="王芳", role="agent", actor="t", now=NOW
    )
    old, recent = NOW - timedelta(days=3), NOW - timedelta(hours=1)
    for at in (old, old, recent):
        connection.execute(
            insert(SignInAttempt).values(at=at, username_key="u", client_key="c", succeeded=False)
        )
        connection.execute(insert(UnmaskEvent).values(user_id=user.id, borrower_id=1, at=at))
    assert timedelta(days=1) == sessions.KEEP_ATTEMPTS and timedelta(days=2) == unmasking.KEEP

    dry = retention.purge(connection, vault, as_of=NOW.date(), actor="ops", now=NOW, dry_run=True)
    assert (dry.counts["sign_in_attempts"], dry.counts["unmask_events"]) == (2, 2)
    assert connection.execute(select(func.count()).select_from(SignInAttempt)).scalar() == 3

    report = retention.purge(connection, vault, as_of=NOW.date(), actor="ops", now=NOW)
    assert report.counts == dry.counts
    left = connection.execute(select(SignInAttempt.at)).scalars().all()
    assert left == [recent]
    assert connection.execute(select(UnmaskEvent.at)).scalars().all() == [recent]
    (event,) = audit.events(connection, action="retention.purge")
    assert event.payload["counts"]["sign_in_attempts"] == 2
    again = retention.purge(connection, vault, as_of=NOW.date(), actor="ops", now=NOW)
    assert (again.counts["sign_in_attempts"], again.counts["unmask_events"]) == (0, 0)


def test_the_retention_run_refuses_a_naive_clock(connection: Connection, vault: PiiVault) -> None:
    with pytest.raises(ValueError, match="aware"):
        retention.purge(
            connection, vault, as_of=NOW.date(), actor="ops", now=NOW.replace(tzinfo=None)
        )


def test_the_unmask_throttle_counts_staff_only_and_names_the_actor(
    connection: Connection, vault: PiiVault
) -> None:
    user = staff.add_staff(
        connection, username="zhao.lei", display_name="赵磊", role="agent", actor="t", now=NOW
    )
    actor = Actor(name="api:zhao.lei", role=Role.AGENT, user_id=user.id)
    limits = unmasking.Limits(per_minute=1, per_day=5)
    first = unmasking.admit(
        connection,
        actor,
        borrower_id=1,
        field="mobile",
        purpose="contact",
        limits=limits,
        now=NOW,
    )
    second = unmasking.admit(
        connection,
        actor,
        borrower_id=2,
        field="mobile",
        purpose="contact",
        limits=limits,
        now=NOW + timedelta(seconds=5),
    )
    assert first is None and isinstance(second, unmasking.UnmaskThrottled)
    assert second.window == "minute" and second.retry_after >= 1
    (event,) = audit.events(connection, action=unmasking.THROTTLED)
    assert event.actor == "api:zhao.lei" and "borrower_id" not in event.payload
    # an operator at the command line (no role) is no staff member the throttle counts
    cli = Actor(name="cli:root")
    with pytest.raises(ValidationError):
        unmasking.unmask(
            connection,
            vault,
            cli,
            loan_id=1,
            field="mobile",
            purpose="contact",
            limits=limits,
            now=NOW,
            today=NOW.date(),
        )
