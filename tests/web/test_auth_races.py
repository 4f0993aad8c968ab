"""Sign-in limits hold under parallel requests and do not punish a shared address (issue 11,
findings 7 and 8), through the real app on a committed database, SQLite and PostgreSQL.

Staff sign-in (``/sign-in``) and the portal's one-time codes (``/api/v1/portal/code``,
``/api/v1/portal/session``): thirty parallel wrong passwords make exactly five real checks
and the failure counter counts each of them; forty parallel code guesses make exactly five
tries; ten parallel submissions of the right code open exactly one session; failures or
code requests for other people from one address (a carrier NAT) leave a right credential
working; ``X-Forwarded-For`` counts only from a trusted proxy.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from ipaddress import ip_network
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select

from forbear.services import portal as svc
from forbear.services import sessions
from forbear.store.audit import AuditEvent
from forbear.store.crypto import Contexts
from forbear.store.models import Borrower, Loan
from forbear.store.portal import PortalCode, PortalOutbox, PortalSession
from forbear.store.web import SignInAttempt, StaffUser
from forbear.web.pages.portal import PORTAL_COOKIE
from forbear.web.security import client_address
from web.conftest import PASSWORD
from web.live import Live, live_fixture, parallel  # noqa: F401 - the ``live`` fixture

PEER = ("testclient", 50000)


def _form(app: FastAPI, client: tuple[str, int] = PEER) -> tuple[TestClient, str]:
    """A client that opened the sign-in page, and the page's CSRF token."""
    c = TestClient(app, base_url="https://testserver", client=client)
    token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/sign-in").text)
    assert token is not None
    return c, token.group(1)


def _sign_in(
    app: FastAPI,
    username: str,
    password: str = PASSWORD,
    client: tuple[str, int] = PEER,
    forwarded: str | None = None,
) -> Any:
    c, token = _form(app, client)
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return c.post(
        "/sign-in",
        data={"username": username, "password": password, "csrf_token": token},
        headers=headers,
        follow_redirects=False,
    )


def _failures(live: Live, user_id: int) -> dict[str, int]:
    """``staff.sign_in_failed`` events of a user, by reason."""
    payloads = live.read(
        select(AuditEvent.payload).where(
            AuditEvent.action == "staff.sign_in_failed", AuditEvent.subject_id == str(user_id)
        )
    ).scalars()
    counts: dict[str, int] = {}
    for payload in payloads:
        reason = json.loads(payload)["reason"]
        counts[reason] = counts.get(reason, 0) + 1
    return counts


def _user(live: Live, username: str):  # type: ignore[no-untyped-def]
    return live.read(select(StaffUser).where(StaffUser.username == username)).one()


# ---------------------------------------------------------------------------- staff


def test_thirty_parallel_wrong_passwords_make_five_checks_and_the_lock_fires(live: Live) -> None:
    app = live.app()
    key = app.state.web.signer.key("username", "agent1")
    user_id = int(_user(live, "agent1").id)

    def round_of_thirty() -> list[int]:
        prepared = [_form(app) for _ in range(30)]
        posts = [
            lambda c=c, t=t: (
                c.post(
                    "/sign-in",
                    data={"username": "agent1", "password": "not the password", "csrf_token": t},
                    follow_redirects=False,
                ).status_code
            )
            for c, t in prepared
        ]
        return sorted(parallel(posts))

    first = round_of_thirty()
    assert first == [401] * sessions.MAX_FAILURES_PER_USERNAME + [429] * 25
    checks = live.scalar(
        select(func.count()).select_from(SignInAttempt).where(SignInAttempt.username_key == key)
    )
    assert checks == sessions.MAX_FAILURES_PER_USERNAME  # only real checks are attempts
    assert _failures(live, user_id) == {"credentials": 5, "throttled": 25}
    assert _user(live, "agent1").failed_attempts == 5  # no lost update
    assert _user(live, "agent1").locked_until is None

    live.clock.now += sessions.WINDOW + timedelta(seconds=1)
    second = round_of_thirty()
    assert second == [401] * 5 + [429] * 25
    user = _user(live, "agent1")
    assert user.failed_attempts == sessions.LOCK_AFTER == 10
    assert user.locked_until == live.clock.now + sessions.LOCK_FOR
    locks = live.scalar(
        select(func.count()).where(
            AuditEvent.action == "staff.lock", AuditEvent.subject_id == str(user_id)
        )
    )
    assert locks == 1
    # locked: after the window the right password still waits for the lock to end
    live.clock.now += sessions.WINDOW + timedelta(seconds=1)
    assert _sign_in(app, "agent1").status_code == 429


def test_parallel_right_passwords_each_open_a_session_and_reset_the_counter(live: Live) -> None:
    app = live.app()
    assert _sign_in(app, "super1", "not the password").status_code == 401
    prepared = [_form(app) for _ in range(4)]
    posts = [
        lambda c=c, t=t: (
            c.post(
                "/sign-in",
                data={"username": "super1", "password": PASSWORD, "csrf_token": t},
                follow_redirects=False,
            ).status_code
        )
        for c, t in prepared
    ]
    assert parallel(posts) == [303] * 4
    user = _user(live, "super1")
    assert user.failed_attempts == 0 and user.last_sign_in_at == live.clock.now
    key = app.state.web.signer.key("username", "super1")
    attempts = live.read(
        select(SignInAttempt.succeeded).where(SignInAttempt.username_key == key)
    ).scalars()
    assert sorted(attempts) == [False] + [True] * 4


def test_failures_for_other_accounts_from_one_address_leave_a_right_password_working(
    live: Live,
) -> None:
    app = live.app()
    # twenty colleagues behind one carrier NAT mistype, or someone sprays from it
    for i in range(20):
        assert _sign_in(app, f"colleague{i}", "not the password").status_code == 401
    assert _sign_in(app, "agent1").status_code == 303
    # only the hard cap, far beyond any office, refuses the address itself
    client_key = app.state.web.signer.key("client", PEER[0])
    with live.db.transaction() as conn:
        conn.execute(
            insert(SignInAttempt),
            [
                {
                    "at": live.clock.now - timedelta(minutes=1),
                    "username_key": f"k{i}",
                    "client_key": client_key,
                    "succeeded": False,
                }
                for i in range(sessions.MAX_FAILURES_PER_CLIENT)
            ],
        )
    assert _sign_in(app, "super1").status_code == 429
    assert _sign_in(app, "super1", client=("192.0.2.10", 50000)).status_code == 303


def test_forwarded_for_counts_only_from_a_trusted_proxy(live: Live) -> None:
    app = live.app(trusted_proxies="10.0.0.0/24")
    proxy = ("10.0.0.1", 50000)
    for i in range(sessions.BUSY_CLIENT_FAILURES):
        answer = _sign_in(app, f"guess{i}", "wrong", client=proxy, forwarded="203.0.113.7")
        assert answer.status_code == 401
    # the busy address (as the proxy names it) costs an account its checks sooner ...
    for _ in range(sessions.BUSY_CLIENT_FAILURES_PER_ACCOUNT):
        answer = _sign_in(app, "agent1", "wrong", client=proxy, forwarded="203.0.113.7")
        assert answer.status_code == 401
    assert _sign_in(app, "agent1", client=proxy, forwarded="203.0.113.7").status_code == 429
    # ... and another address behind the same proxy is another client
    assert _sign_in(app, "agent1", client=proxy, forwarded="198.51.100.9").status_code == 303
    # a peer that is no trusted proxy cannot pick its address with the header
    untrusted = ("192.0.2.50", 50000)
    for i in range(sessions.BUSY_CLIENT_FAILURES):
        answer = _sign_in(app, f"other{i}", "wrong", client=untrusted, forwarded=f"198.18.0.{i}")
        assert answer.status_code == 401
    for _ in range(sessions.BUSY_CLIENT_FAILURES_PER_ACCOUNT):
        answer = _sign_in(app, "super1", "wrong", client=untrusted, forwarded="198.18.1.1")
        assert answer.status_code == 401
    assert _sign_in(app, "super1", client=untrusted, forwarded="198.18.1.2").status_code == 429


@pytest.mark.parametrize(
    ("peer", "header", "expected"),
    [
        ("10.0.0.1", "203.0.113.7", "203.0.113.7"),
        ("10.0.0.1", "198.51.100.1, 203.0.113.7", "203.0.113.7"),  # right-most untrusted
        ("10.0.0.1", "203.0.113.7, 10.0.0.2", "203.0.113.7"),  # through two proxies
        ("10.0.0.1", "10.0.0.3, 10.0.0.2", "10.0.0.3"),  # only proxies: the first
        ("10.0.0.1", "not-an-address, 203.0.113.7", "10.0.0.1"),  # malformed: the peer
        ("10.0.0.1", None, "10.0.0.1"),
        ("192.0.2.1", "203.0.113.7", "192.0.2.1"),  # not a trusted proxy
        ("testclient", "203.0.113.7", "testclient"),
        (None, "203.0.113.7", "unknown"),
        ("::1", "2001:db8::5", "::1"),  # IPv6 peer, IPv4 networks only
    ],
)
def test_client_address(peer: str | None, header: str | None, expected: str) -> None:
    assert client_address(peer, header, [ip_network("10.0.0.0/24")]) == expected


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert client_address("10.0.0.1", "203.0.113.7", []) == "10.0.0.1"


# ---------------------------------------------------------------------------- portal


def _borrower(live: Live) -> tuple[int, str]:
    """A borrower whose mobile is nobody else's, and the mobile."""
    with live.db.transaction() as conn:
        rows = conn.execute(
            select(Borrower.id, Borrower.mobile_enc, Borrower.mobile_bidx)
            .join(Loan, Loan.borrower_id == Borrower.id)
            .where(Loan.id == live.book.queue_loan)
        ).one()
        shared = conn.execute(
            select(func.count()).where(Borrower.mobile_bidx == rows.mobile_bidx)
        ).scalar_one()
    assert shared == 1
    return int(rows.id), live.db.vault.decrypt(rows.mobile_enc, context=Contexts.BORROWER_MOBILE)


def _code(live: Live, borrower_id: int) -> tuple[int, str]:
    """The latest code request of the borrower and its code (from the SMS outbox)."""
    with live.db.transaction() as conn:
        message_id = conn.execute(
            select(func.max(PortalOutbox.id)).where(PortalOutbox.borrower_id == borrower_id)
        ).scalar_one()
        request_id = conn.execute(
            select(func.max(PortalCode.id)).where(PortalCode.borrower_id == borrower_id)
        ).scalar_one()
        return int(request_id), svc.outbox_code(conn, live.db.vault, int(message_id))


def _portal(app: FastAPI, client: tuple[str, int] = PEER) -> TestClient:
    return TestClient(app, base_url="https://testserver", client=client)


def test_forty_parallel_code_guesses_make_exactly_five_tries(live: Live) -> None:
    app = live.app()
    borrower_id, mobile = _borrower(live)
    assert _portal(app).post("/api/v1/portal/code", json={"mobile": mobile}).status_code == 202
    request_id, code = _code(live, borrower_id)
    wrong = [f"{(int(code) + i) % 1_000_000:06d}" for i in range(1, 41)]
    clients = [_portal(app) for _ in wrong]
    answers = parallel(
        [
            lambda c=c, w=w: (
                c.post("/api/v1/portal/session", json={"mobile": mobile, "code": w}).status_code
            )
            for c, w in zip(clients, wrong, strict=True)
        ]
    )
    assert answers == [401] * 40
    tries = live.read(
        select(AuditEvent.payload).where(
            AuditEvent.action == "portal.sign_in_failed", AuditEvent.subject_id == str(borrower_id)
        )
    ).scalars()
    attempts = sorted(json.loads(p)["attempt"] for p in tries)
    assert attempts == [1, 2, 3, 4, 5]
    assert live.scalar(select(PortalCode.attempts).where(PortalCode.id == request_id)) == 5
    # the code is spent by the guesses: even the right one opens nothing now
    late = _portal(app).post("/api/v1/portal/session", json={"mobile": mobile, "code": code})
    assert late.status_code == 401


def test_ten_parallel_right_codes_open_exactly_one_session(live: Live) -> None:
    app = live.app()
    borrower_id, mobile = _borrower(live)
    assert _portal(app).post("/api/v1/portal/code", json={"mobile": mobile}).status_code == 202
    request_id, code = _code(live, borrower_id)
    before = live.scalar(select(func.count()).where(PortalSession.borrower_id == borrower_id))
    clients = [_portal(app) for _ in range(10)]
    answers = parallel(
        [
            lambda c=c: c.post("/api/v1/portal/session", json={"mobile": mobile, "code": code})
            for c in clients
        ]
    )
    assert sorted(a.status_code for a in answers) == [201] + [401] * 9
    opened = live.scalar(select(func.count()).where(PortalSession.borrower_id == borrower_id))
    assert opened == before + 1
    signed_in = live.scalar(
        select(func.count()).where(
            AuditEvent.action == "portal.sign_in", AuditEvent.subject_id == str(borrower_id)
        )
    )
    assert signed_in == before + 1
    assert sum(PORTAL_COOKIE in a.cookies for a in answers) == 1
    assert live.scalar(select(PortalCode.used_at).where(PortalCode.id == request_id)) is not None


def test_code_requests_for_others_from_one_address_leave_a_borrower_signing_in(
    live: Live,
) -> None:
    app = live.app()
    nat = _portal(app)
    # twenty people (or one scanner) behind one carrier NAT ask for codes
    for i in range(20):
        answer = nat.post("/api/v1/portal/code", json={"mobile": f"1370000{i:04d}"})
        assert answer.status_code == 202
    borrower_id, mobile = _borrower(live)
    assert nat.post("/api/v1/portal/code", json={"mobile": mobile}).status_code == 202
    _, code = _code(live, borrower_id)
    opened = nat.post("/api/v1/portal/session", json={"mobile": mobile, "code": code})
    assert opened.status_code == 201
    # from that busy address a number gets fewer requests; elsewhere it is the per-number rule
    live.clock.now += svc.RESEND_AFTER
    assert nat.post("/api/v1/portal/code", json={"mobile": mobile}).status_code == 202
    live.clock.now += svc.RESEND_AFTER
    assert nat.post("/api/v1/portal/code", json={"mobile": mobile}).status_code == 429
    elsewhere = _portal(app, ("192.0.2.20", 50000))
    assert elsewhere.post("/api/v1/portal/code", json={"mobile": mobile}).status_code == 202


def test_parallel_code_requests_for_one_number_are_limited_exactly(live: Live) -> None:
    app = live.app()
    _, mobile = _borrower(live)
    clients = [_portal(app, (f"192.0.2.{i}", 50000)) for i in range(1, 21)]
    answers = parallel(
        [
            lambda c=c: c.post("/api/v1/portal/code", json={"mobile": mobile}).status_code
            for c in clients
        ]
    )
    # one per RESEND_AFTER: the first wins, the others wait
    assert sorted(answers) == [202] + [429] * 19


def test_the_sign_in_purges_attempts_older_than_a_day_now_and_then(live: Live) -> None:
    app = live.app()
    old, recent = live.clock.now - timedelta(days=2), live.clock.now - timedelta(hours=1)
    with live.db.transaction() as conn:
        last = 0
        # old rows until the next attempt's id is a multiple of PURGE_EVERY (one recent one)
        while last % sessions.PURGE_EVERY != sessions.PURGE_EVERY - 2:
            last = conn.execute(
                insert(SignInAttempt)
                .values(at=old, username_key="k", client_key="c", succeeded=False)
                .returning(SignInAttempt.id)
            ).scalar_one()
        conn.execute(
            insert(SignInAttempt).values(
                at=recent, username_key="k", client_key="c", succeeded=True
            )
        )
    assert _sign_in(app, "agent1").status_code == 303
    kept = live.read(select(SignInAttempt.at).order_by(SignInAttempt.at)).scalars().all()
    assert kept == [recent, live.clock.now]
