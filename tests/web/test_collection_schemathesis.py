"""Schemathesis over the collection area's operations (promises, plans, scripts, legal):
generated requests, signed in with an API token of a role that holds the permission,
never get a 5xx, and every answer conforms to the OpenAPI description."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
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
MINE = ("/promises", "/plans", "/scripts", "/legal/")


@pytest.mark.slow
def test_collection_operations_answer_generated_requests_within_their_description(
    app, db, clock
) -> None:  # type: ignore[no-untyped-def]
    tokens = {
        who: staff.issue_api_token(db.conn, who, name="fuzz", actor="test", now=clock.now).token
        for who in ("service1", "legal1")
    }
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    operations = [
        op
        for op in (result.ok() for result in schema.get_all_operations())
        if any(part in op.path for part in MINE)
    ]
    assert len(operations) >= 17
    for operation in operations:
        _fuzz(operation, tokens["legal1" if "/legal/" in operation.path else "service1"])


def _fuzz(operation, token: str) -> None:  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {token}"}
    # documents are built (and audited) on each call: fewer examples there
    examples = 3 if "/documents" in operation.path else 10

    @given(case=operation.as_strategy())
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def check(case) -> None:  # type: ignore[no-untyped-def]
        case.call_and_validate(headers=headers, checks=CHECKS)

    check()
