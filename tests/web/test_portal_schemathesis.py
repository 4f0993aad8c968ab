"""Schemathesis over the portal's and the education library's operations, signed in as a
borrower (cookie and CSRF header): no 5xx, every answer conforms to the description. (The
shared schemathesis test runs them with a staff token, which opens no borrower route.)"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from forbear.services import staff
from forbear.web.pages.portal import PORTAL_COOKIE
from web.portal_helpers import portal_borrower, portal_sign_in
from web.test_schemathesis import CHECKS

MINE = ("/api/v1/portal", "/api/v1/education")


@pytest.fixture
def staff_token(db, clock) -> dict[str, str]:  # type: ignore[no-untyped-def]
    issued = staff.issue_api_token(db.conn, "service1", name="fuzz", actor="test", now=clock.now)
    return {"Authorization": f"Bearer {issued.token}"}


@pytest.mark.slow
def test_the_portal_api_answers_generated_requests_within_its_description(  # type: ignore[no-untyped-def]
    app, client, db, clock, book
) -> None:
    me = portal_borrower(db, book)
    csrf = portal_sign_in(client, db, clock, me.borrower_id)
    cookie = client.cookies.get(PORTAL_COOKIE)
    headers = {"X-CSRF-Token": csrf, "Cookie": f"{PORTAL_COOKIE}={cookie}"}
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    operations = [
        op for op in (r.ok() for r in schema.get_all_operations()) if op.path.startswith(MINE)
    ]
    assert len(operations) == 17
    for operation in operations:
        if operation.method.upper() == "DELETE":
            continue  # signing out would end the session the others use

        @given(case=operation.as_strategy())
        @settings(
            max_examples=8,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def check(case) -> None:  # type: ignore[no-untyped-def]
            case.call_and_validate(headers=headers, checks=CHECKS)

        check()


@pytest.mark.slow
def test_with_a_staff_token_the_portal_api_still_answers_within_its_description(  # type: ignore[no-untyped-def]
    app, staff_token
) -> None:
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    operations = [
        op for op in (r.ok() for r in schema.get_all_operations()) if op.path.startswith(MINE)
    ]
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=5,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def check(case) -> None:  # type: ignore[no-untyped-def]
            case.call_and_validate(headers=staff_token, checks=CHECKS)

        check()
