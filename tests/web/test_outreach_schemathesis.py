"""Property tests of the workbench's outreach API (schemathesis, issue 13): for each
operation under ``/api/v1/outreach``, generated requests (signed in with a supervisor's
API token, who may contact borrowers) never get a 5xx, and every answer conforms to the
description (status code, content type, body schema). Path ids are drawn around a real
loan so that the answers are not only 404s."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from forbear.services import staff

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def bearer(db, clock) -> dict[str, str]:  # type: ignore[no-untyped-def]
    issued = staff.issue_api_token(db.conn, "service1", name="fuzz", actor="test", now=clock.now)
    return {"Authorization": f"Bearer {issued.token}"}


@pytest.mark.slow
def test_the_outreach_api_answers_generated_requests_within_its_description(  # type: ignore[no-untyped-def]
    app, bearer, book
) -> None:
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    operations = [
        op
        for op in (result.ok() for result in schema.get_all_operations())
        if op.path.startswith("/api/v1/outreach")
    ]
    assert {(op.method.upper(), op.path) for op in operations} == {
        ("GET", "/api/v1/outreach/loans/{loan_id}/choices"),
        ("POST", "/api/v1/outreach/loans/{loan_id}/preview"),
        ("POST", "/api/v1/outreach/loans/{loan_id}/messages"),
        ("GET", "/api/v1/outreach/loans/{loan_id}/messages"),
    }
    loans = st.sampled_from([book.queue_loan, book.other_loan, book.placed_loan])
    for operation in operations:

        @given(case=operation.as_strategy(), loan=loans, real=st.booleans())
        @settings(
            max_examples=25,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def check(case, loan, real) -> None:  # type: ignore[no-untyped-def]
            if real:
                case.path_parameters = {"loan_id": loan}
            case.call_and_validate(headers=bearer, checks=CHECKS)

        check()
