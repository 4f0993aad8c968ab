"""Schemathesis over the complaints area's operations (complaints, satisfaction, case
library), with a compliance officer's and a supervisor's API token: no 5xx, every answer
conforms to the description; and each operation's description is complete."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from forbear.services import staff
from web.test_schemathesis import CHECKS

MINE = ("/api/v1/complaints", "/api/v1/satisfaction", "/api/v1/cases")


def operations(app):  # type: ignore[no-untyped-def]
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    return [op for op in (r.ok() for r in schema.get_all_operations()) if op.path.startswith(MINE)]


@pytest.mark.slow
@pytest.mark.parametrize("username", ["compliance1", "super1"])
def test_the_complaints_api_answers_generated_requests_within_its_description(  # type: ignore[no-untyped-def]
    app, db, clock, username
) -> None:
    issued = staff.issue_api_token(db.conn, username, name="fuzz", actor="test", now=clock.now)
    headers = {"Authorization": f"Bearer {issued.token}"}
    found = operations(app)
    assert len(found) == 13
    for operation in found:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=5,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def check(case) -> None:  # type: ignore[no-untyped-def]
            case.call_and_validate(headers=headers, checks=CHECKS)

        check()


def test_the_complaints_operations_are_described(client) -> None:  # type: ignore[no-untyped-def]
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    mine = {p: ops for p, ops in paths.items() if p.startswith(MINE)}
    assert set(mine) == {
        "/api/v1/complaints",
        "/api/v1/complaints/rates",
        "/api/v1/complaints/{complaint_id}",
        "/api/v1/complaints/{complaint_id}/start",
        "/api/v1/complaints/{complaint_id}/extend",
        "/api/v1/complaints/{complaint_id}/approve",
        "/api/v1/complaints/{complaint_id}/resolve",
        "/api/v1/complaints/{complaint_id}/close",
        "/api/v1/satisfaction",
        "/api/v1/satisfaction/summary",
        "/api/v1/cases",
    }
    for path, ops in mine.items():
        for method, operation in ops.items():
            assert operation.get("summary"), (method, path)
            for status in ("401", "403", "404", "422"):
                assert status in operation["responses"], (method, path, status)
