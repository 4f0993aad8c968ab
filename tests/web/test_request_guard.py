"""The request guard (forbear.web.guard) and the security headers, on SQLite and
PostgreSQL (issue 11, low findings):

- NUL and other C0 control characters (not tab, line feed, carriage return) in a JSON
  string, a form field, a query parameter or the path: a 400 naming the field, nothing
  written (before the guard: a 500 on PostgreSQL, stored as is on SQLite);
- a body over ``max_body_bytes`` (JSON, form, multipart, chunked): a 413 before anything
  parses it;
- Strict-Transport-Security outside development, beside the other headers;
- a database integrity error that reaches the error map: a 409 in the user's language.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from forbear.settings import Environment
from forbear.store.audit import AuditEvent
from forbear.store.complaints import Complaint
from forbear.store.promises import Promise
from forbear.web import create_app
from forbear.web.app import HSTS

TEXT = "借款人称晚上十点后仍接到催收电话"


def written(db) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    return tuple(  # type: ignore[return-value]
        db.conn.execute(select(func.count()).select_from(t)).scalar_one()
        for t in (AuditEvent, Complaint, Promise)
    )


def complaint(loan: int, description: str) -> dict[str, object]:
    return {"loan_id": loan, "category": "harassment", "description": description}


# ------------------------------------------------------------------ control characters


@pytest.mark.parametrize("bad", ["\x00", "\x01", "\x08", "\x0b", "\x1b", "\x1f"])
def test_a_control_character_in_json_is_a_400_naming_the_field(
    client, sign_in, book, db, bad: str
) -> None:
    c = sign_in("agent1")
    before = written(db)
    answer = c.post("/api/v1/complaints", json=complaint(book.queue_loan, f"晚上{bad}十点"))
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "control_characters" and error["field"] == "description"
    assert "description" in error["message"] and "控制字符" in error["message"]
    assert bad not in answer.text and "十点" not in answer.text  # the value is not echoed
    assert written(db) == before


def test_the_message_follows_the_language(client, sign_in, book) -> None:
    c = sign_in("agent1")
    answer = c.post(
        "/api/v1/complaints",
        json=complaint(book.queue_loan, "a\x00b"),
        headers={"Accept-Language": "en"},
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["message"].startswith("The field description of the request")


def test_tab_and_newlines_are_still_accepted(client, sign_in, book, db) -> None:
    c = sign_in("agent1")
    answer = c.post("/api/v1/complaints", json=complaint(book.queue_loan, "第一行\r\n第二行\t完"))
    assert answer.status_code == 201, answer.text


def test_nested_keys_and_values_are_checked(client, sign_in, book, db) -> None:
    c = sign_in("agent1")
    before = written(db)
    for body in (
        {"loan_id": book.queue_loan, "category": "harassment", "description": TEXT, "x\x00": 1},
        {"items": [{"deep": ["ok", "bad\x00"]}]},
    ):
        answer = c.post("/api/v1/complaints", json=body)
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["code"] == "control_characters"
    assert written(db) == before


def test_a_nul_in_a_query_parameter_or_the_path_is_a_400(client, sign_in) -> None:
    c = sign_in("agent1")
    answer = c.get("/api/v1/accounts", params={"loan_ref": "L\x00001"})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "control_characters"
    assert "loan_ref" in answer.json()["error"]["message"]
    assert c.get("/api/v1/accounts/%00").status_code == 400
    page = c.get("/accounts", params={"q": "a\x00"})
    assert page.status_code == 400 and "控制字符" in page.text


def test_a_nul_in_a_form_field_is_a_400_page(client, sign_in, book, db) -> None:
    c = sign_in("legal1")
    before = written(db)
    answer = c.post(
        "/legal/cases",
        data={"loan_id": "1", "csrf_token": c.headers["X-CSRF-Token"], "note": "a\x00"},
        follow_redirects=False,
    )
    assert answer.status_code == 400
    assert "text/html" in answer.headers["content-type"] and "控制字符" in answer.text
    assert written(db) == before


def test_a_nul_in_a_multipart_field_is_a_400(client, sign_in) -> None:
    c = sign_in("legal1")
    answer = c.post(
        "/api/v1/legal/cases",
        data={"loan_id": "1", "note": "a\x00"},
        files={"file": ("a.txt", b"binary \x00 content is not text")},
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["field"] == "note"


def test_binary_file_content_is_not_refused(client, sign_in) -> None:
    c = sign_in("legal1")
    answer = c.post(
        "/api/v1/legal/cases",
        data={"loan_id": "1"},
        files={"file": ("a.bin", b"\x00\x01\x02")},
    )
    assert answer.status_code != 400 or answer.json()["error"]["code"] != "control_characters"


# ------------------------------------------------------------------ body size


@pytest.fixture
def small(db, clock) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """The app with a 2 KiB body limit (the setting), over the test's database."""
    db.settings = db.settings.model_copy(update={"max_body_bytes": 2048})
    with TestClient(create_app(db, clock=clock), base_url="https://testserver") as c:
        yield c


def _session(c: TestClient, sign_in) -> TestClient:  # type: ignore[no-untyped-def]
    signed = sign_in("agent1")
    c.cookies = signed.cookies
    c.headers["X-CSRF-Token"] = signed.headers["X-CSRF-Token"]
    return c


def test_a_body_over_the_limit_is_a_413_for_json_forms_and_multipart(
    small, sign_in, book, db
) -> None:
    c = _session(small, sign_in)
    before = written(db)
    big = "长" * 2000  # 6,000 bytes in UTF-8
    for answer in (
        c.post("/api/v1/complaints", json=complaint(book.queue_loan, big)),
        c.post(f"/accounts/{book.queue_loan}/promises", data={"amount_yuan": big}),
        c.post("/api/v1/complaints", files={"f": ("a.txt", big.encode())}),
    ):
        assert answer.status_code == 413, answer.text
        assert "2 KiB" in answer.text
    api = c.post("/api/v1/complaints", json=complaint(book.queue_loan, big))
    assert api.json()["error"]["code"] == "too_large"
    assert api.json()["error"]["message"] == "请求内容过大（上限 2 KiB）：已拒绝，未处理任何内容。"
    assert written(db) == before
    # under the limit, the same route works
    fine = c.post("/api/v1/complaints", json=complaint(book.queue_loan, TEXT))
    assert fine.status_code == 201, fine.text


def test_a_chunked_body_is_cut_at_the_limit(small, sign_in, book, db) -> None:
    c = _session(small, sign_in)
    before = written(db)

    def chunks() -> Iterator[bytes]:
        yield b'{"loan_id": 1, "category": "harassment", "description": "'
        for _ in range(100):
            yield b"x" * 100
        yield b'"}'

    answer = c.post(
        "/api/v1/complaints", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 413
    assert written(db) == before


def test_the_default_limit_is_one_mebibyte(client, sign_in, book) -> None:
    c = sign_in("agent1")
    answer = c.post("/api/v1/complaints", json=complaint(book.queue_loan, "x" * (1024 * 1024)))
    assert answer.status_code == 413
    assert "1 MiB" in answer.json()["error"]["message"]


# ------------------------------------------------------------------ headers


def test_hsts_and_the_other_headers_outside_development(client, sign_in) -> None:
    for answer in (
        client.get("/sign-in"),
        client.get("/api/v1/me"),  # 401
        client.get("/static/forbear.css"),
        client.get("/no/such/page"),
    ):
        assert answer.headers["strict-transport-security"] == HSTS
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert "default-src 'self'" in answer.headers["content-security-policy"]


def test_no_hsts_in_development(db, clock) -> None:  # type: ignore[no-untyped-def]
    db.settings = db.settings.model_copy(update={"environment": Environment.DEVELOPMENT})
    with TestClient(create_app(db, clock=clock), base_url="http://testserver") as c:
        answer = c.get("/sign-in")
    assert "strict-transport-security" not in answer.headers
    assert answer.headers["x-frame-options"] == "DENY"


# ------------------------------------------------------------------ integrity errors


def test_an_integrity_error_reaching_the_map_is_a_409_in_the_users_language(
    app, client, sign_in, db
) -> None:
    """A real unique violation of the real database (a second staff account with the same
    username, written by a route as a racing writer would) answers 409, not 500."""

    def duplicate() -> None:
        with app.state.web.forbear.transaction() as conn:
            row = conn.execute(text("SELECT * FROM staff_users WHERE username = 'agent1'"))
            values = dict(row.mappings().one())
            values.pop("id")
            names = ", ".join(values)
            marks = ", ".join(f":{k}" for k in values)
            conn.execute(text(f"INSERT INTO staff_users ({names}) VALUES ({marks})"), values)

    app.add_api_route("/api/v1/test-duplicate", duplicate, methods=["POST"])
    app.add_api_route("/test-duplicate", duplicate, methods=["POST"])
    c = sign_in("agent1")
    answer = c.post("/api/v1/test-duplicate")
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"] == {
        "code": "conflict",
        "message": "另一个请求刚刚同时修改了同一数据，本次操作未保存。请刷新页面后重试。",
        "field": None,
        "details": [],
    }
    english = c.post("/api/v1/test-duplicate", headers={"Accept-Language": "en"})
    assert english.json()["error"]["message"].startswith("Another request changed the same data")
    page = c.post("/test-duplicate")
    assert page.status_code == 409 and "另一个请求" in page.text
