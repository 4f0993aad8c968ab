"""The one-question satisfaction survey after a promise or a plan made in the portal:
shown once the promise is taken, answered once, only about the borrower's own subject."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from forbear.store.complaints import SatisfactionResponse
from forbear.web.i18n import ZH
from web.portal_helpers import PortalBorrower, portal_borrower, portal_sign_in


@pytest.fixture
def me(db, book) -> PortalBorrower:  # type: ignore[no-untyped-def]
    return portal_borrower(db, book)


@pytest.fixture
def signed(client: TestClient, db, clock, me: PortalBorrower) -> tuple[TestClient, str]:  # type: ignore[no-untyped-def]
    csrf = portal_sign_in(client, db, clock, me.borrower_id)
    del client.headers["X-CSRF-Token"]  # pages post the form field
    return client, csrf


def answers(db) -> int:  # type: ignore[no-untyped-def]
    return int(db.conn.execute(select(func.count()).select_from(SatisfactionResponse)).scalar_one())


def test_a_promise_is_followed_by_its_survey_answered_once(  # type: ignore[no-untyped-def]
    signed, db, me: PortalBorrower, clock
) -> None:
    client, csrf = signed
    promised = client.post(
        f"/portal/loans/{me.loan_id}/promise",
        data={"amount": "200", "promised_on": clock.now.date().isoformat(), "csrf_token": csrf},
    )
    assert promised.status_code == 200 and 'id="survey"' in promised.text
    assert ZH["portal.survey.question.promise"] in promised.text
    subject = re.search(r'name="subject_id" value="(\d+)"', promised.text)
    assert subject is not None
    form = {
        "subject_type": "promise",
        "subject_id": subject.group(1),
        "loan_id": str(me.loan_id),
        "csrf_token": csrf,
    }
    before = answers(db)
    rated = client.post("/portal/survey", data={**form, "score": "4"})
    assert rated.status_code == 200 and ZH["portal.done.survey"] in rated.text
    assert 'id="survey"' not in rated.text
    assert answers(db) == before + 1
    score, kind = db.conn.execute(
        select(SatisfactionResponse.score, SatisfactionResponse.subject_type).order_by(
            SatisfactionResponse.id.desc()
        )
    ).first()
    assert (score, kind) == (4, "promise")
    again = client.post("/portal/survey", data={**form, "score": "1"})
    assert again.status_code == 409 and answers(db) == before + 1


@pytest.mark.parametrize(
    "change",
    [
        {"score": "9"},
        {"score": "x"},
        {"subject_type": "complaint"},
        {"subject_id": "999999"},
        {"csrf_token": "forged"},
    ],
)
def test_a_bad_answer_writes_nothing(  # type: ignore[no-untyped-def]
    signed, db, me: PortalBorrower, change
) -> None:
    client, csrf = signed
    form = {
        "subject_type": "promise",
        "subject_id": "1",
        "loan_id": str(me.loan_id),
        "score": "5",
        "csrf_token": csrf,
        **change,
    }
    before = answers(db)
    answer = client.post("/portal/survey", data=form)
    assert 400 <= answer.status_code < 500
    assert answers(db) == before


def test_another_borrowers_loan_is_not_found(signed, db, me: PortalBorrower) -> None:  # type: ignore[no-untyped-def]
    client, csrf = signed
    form = {
        "subject_type": "promise",
        "subject_id": "1",
        "loan_id": str(me.other_loan),
        "score": "5",
        "csrf_token": csrf,
    }
    before = answers(db)
    assert client.post("/portal/survey", data=form).status_code == 404
    assert answers(db) == before


def test_signed_out_goes_to_the_sign_in(client: TestClient) -> None:
    answer = client.post("/portal/survey", data={"score": "5"}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/portal/sign-in"
