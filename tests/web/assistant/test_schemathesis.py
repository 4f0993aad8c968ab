"""Schemathesis over the assistant's operations, as a signed-in borrower (cookie and CSRF
header) with the real engine: generated texts and ids never get a 5xx, and every answer
conforms to the description. (The shared schemathesis test, with a staff token, sees
only 401s here.)"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from forbear.web.pages.portal import PORTAL_COOKIE
from web.portal_helpers import portal_borrower, portal_sign_in
from web.test_schemathesis import CHECKS

MINE = "/api/v1/assistant"


@pytest.mark.slow
@pytest.mark.usefixtures("engine")
def test_the_assistant_api_answers_generated_requests_within_its_description(  # type: ignore[no-untyped-def]
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
    assert {(op.method.upper(), op.path) for op in operations} == {
        ("POST", "/api/v1/assistant/messages"),
        ("GET", "/api/v1/assistant/conversations/{conversation_id}"),
    }
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=10,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def check(case) -> None:  # type: ignore[no-untyped-def]
            case.call_and_validate(headers=headers, checks=CHECKS)

        check()
