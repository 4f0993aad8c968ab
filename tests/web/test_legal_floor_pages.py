"""The legal console on the floor (issue 15, item 7), through the pages and the API on the
test book, on SQLite and PostgreSQL: the review queue pages, sorts and filters; opening a
case takes a confirm step; a demand letter without proof of delivery is refused beside
its field with what was typed kept, and nothing is written; costs are typed in yuan; a
document downloads alone under its Chinese name."""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest
from sqlalchemy import func, select

from forbear.store.audit import AuditEvent
from forbear.store.contacts import Demand
from forbear.store.legal import LegalCase, LegalCaseCost

TRACKING = "EA123456785CN"


def _count(db, table) -> int:  # type: ignore[no-untyped-def]
    return int(db.conn.execute(select(func.count()).select_from(table)).scalar_one())


def _queued(lawyer) -> list[int]:  # type: ignore[no-untyped-def]
    page = lawyer.get("/legal?stage=waiting&per_page=100")
    assert page.status_code == 200, page.text
    return [int(n) for n in re.findall(r'data-open="(\d+)"', page.text)]


def _open_case(lawyer) -> int:  # type: ignore[no-untyped-def]
    loan = _queued(lawyer)[0]
    token = lawyer.headers["X-CSRF-Token"]
    opened = lawyer.post(
        "/legal/cases",
        data={"loan_id": str(loan), "confirmed": "yes", "csrf_token": token},
        follow_redirects=False,
    )
    assert opened.status_code == 303, opened.text
    found = re.search(r"/legal/cases/(\d+)", opened.headers["location"])
    assert found is not None
    return int(found.group(1))


def test_the_queue_pages_sorts_and_filters(client, sign_in) -> None:
    lawyer = sign_in("legal1")
    first = lawyer.get("/legal?sort=-amount&per_page=25")
    assert first.status_code == 200
    claims = [int(c) for c in re.findall(r'data-claim="(\d+)"', first.text)]
    assert 0 < len(claims) <= 25 and claims == sorted(claims, reverse=True)
    total = int(re.search(r'data-total="(\d+)"', first.text).group(1))  # type: ignore[union-attr]
    api = lawyer.get("/api/v1/legal/queue/page", params={"sort": "-amount", "per_page": 25})
    assert api.status_code == 200 and api.json()["total"] == total
    assert [i["claim"] for i in api.json()["items"]] == claims
    if total > 25:
        second = lawyer.get("/legal?sort=-amount&per_page=25&page=2")
        more = [int(c) for c in re.findall(r'data-claim="(\d+)"', second.text)]
        assert more and max(more) <= min(claims) and 'id="page-prev"' in second.text
    by_date = lawyer.get("/legal?sort=limitation&per_page=100")
    dates = re.findall(r'data-limitation="([0-9-]*)"', by_date.text)
    shown = [d for d in dates if d]
    assert shown == sorted(shown) and 'aria-sort="ascending"' in by_date.text
    low = claims[len(claims) // 2] / 100
    rich = lawyer.get("/api/v1/legal/queue/page", params={"min": f"{low:.2f}", "per_page": 200})
    assert all(i["claim"] >= claims[len(claims) // 2] for i in rich.json()["items"])
    near = lawyer.get("/api/v1/legal/queue/page", params={"within": 400, "per_page": 200})
    assert all(i["days_left"] <= 400 for i in near.json()["items"])


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_a_bad_filter_is_said_beside_its_field_and_kept(client, sign_in, lang) -> None:
    lawyer = sign_in("legal1")
    page = lawyer.get("/legal", params={"min": "五千", "within": "30", "lang": lang})
    assert page.status_code == 422
    assert 'id="min-error"' in page.text and 'value="五千"' in page.text
    words = "请输入以元为单位的金额" if lang == "zh-CN" else "An amount in yuan"
    assert words in page.text and 'value="30"' in page.text
    api = lawyer.get("/api/v1/legal/queue/page", params={"min": "lots"})
    assert api.status_code == 422


def test_opening_a_case_takes_a_confirm_step(client, sign_in, db) -> None:
    lawyer = sign_in("legal1")
    loan = _queued(lawyer)[0]
    token = lawyer.headers["X-CSRF-Token"]
    before = _count(db, LegalCase)
    asked = lawyer.post(
        "/legal/cases", data={"loan_id": str(loan), "csrf_token": token}, follow_redirects=False
    )
    assert asked.status_code == 303 and asked.headers["location"] == f"/legal/queue/{loan}/open"
    confirm = lawyer.get(f"/legal/queue/{loan}/open")
    assert confirm.status_code == 200 and 'id="confirm-open"' in confirm.text
    assert "诉请金额" in confirm.text and "诉讼时效" in confirm.text
    assert _count(db, LegalCase) == before  # nothing written until confirmed
    done = lawyer.post(
        "/legal/cases", data={"loan_id": str(loan), "confirmed": "yes", "csrf_token": token}
    )
    assert done.status_code == 200 and 'id="case-done"' in done.text
    assert _count(db, LegalCase) == before + 1
    gone = lawyer.get(f"/legal/queue/{loan}/open")
    assert 'id="confirm-open"' not in gone.text  # a case exists now: no second button


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_a_demand_letter_without_proof_is_refused_beside_the_field(
    client, sign_in, db, lang
) -> None:
    lawyer = sign_in("legal1")
    case = _open_case(lawyer)
    token = lawyer.headers["X-CSRF-Token"]
    demands, audit = _count(db, Demand), _count(db, AuditEvent)
    bad = lawyer.post(
        f"/legal/cases/{case}/advance?lang={lang}",
        data={
            "to": "demand_letter",
            "proof_kind": "tracking",
            "tracking_number": "EA123456784CN",
            "notes": "寄往户籍地址",
            "csrf_token": token,
        },
    )
    assert bad.status_code == 422
    assert 'id="tracking_number-error"' in bad.text and 'value="EA123456784CN"' in bad.text
    assert 'value="寄往户籍地址"' in bad.text
    words = "校验位不正确" if lang == "zh-CN" else "check digit"
    assert words in bad.text
    empty = lawyer.post(
        f"/legal/cases/{case}/advance?lang={lang}",
        data={"to": "demand_letter", "proof_kind": "tracking", "csrf_token": token},
    )
    assert empty.status_code == 422 and 'id="tracking_number-error"' in empty.text
    assert (_count(db, Demand), _count(db, AuditEvent)) == (demands, audit)
    api = lawyer.post(f"/api/v1/legal/cases/{case}/advance", json={"to": "demand_letter"})
    assert api.status_code == 422 and "proof" in api.text
    good = lawyer.post(
        f"/legal/cases/{case}/advance",
        data={
            "to": "demand_letter",
            "proof_kind": "tracking",
            "tracking_number": "ea 1234 5678 5cn",
            "csrf_token": token,
        },
    )
    assert good.status_code == 200 and 'id="case-done"' in good.text
    assert f"tracking:{TRACKING}" in db.conn.execute(select(Demand.evidence_ref)).scalars().all()
    assert TRACKING in good.text  # the demands table shows its proof


def test_a_receipt_is_proof_too_over_the_api(client, sign_in, db) -> None:
    lawyer = sign_in("legal1")
    case = _open_case(lawyer)
    future = lawyer.post(
        f"/api/v1/legal/cases/{case}/advance",
        json={"to": "demand_letter", "receipt_ref": "SR-2026-0042", "signed_on": "2099-01-01"},
    )
    assert future.status_code == 422 and "signed_on" in future.text
    ok = lawyer.post(
        f"/api/v1/legal/cases/{case}/advance",
        json={"to": "demand_letter", "receipt_ref": "SR-2026-0042", "signed_on": "2026-11-20"},
    )
    assert ok.status_code == 200, ok.text
    detail = lawyer.get(f"/api/v1/legal/cases/{case}/detail").json()
    assert detail["demands"][-1]["proof_kind"] == "receipt"
    assert detail["demands"][-1]["signed_on"] == "2026-11-20"


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_the_case_page_shows_the_claim_debtor_limitation_and_takes_costs(
    client, sign_in, db, lang
) -> None:
    lawyer = sign_in("legal1")
    case = _open_case(lawyer)
    token = lawyer.headers["X-CSRF-Token"]
    page = lawyer.get(f"/legal/cases/{case}?lang={lang}")
    assert page.status_code == 200
    for part in ('id="case-claim"', 'id="case-debtor"', 'id="case-limitation"', 'id="cost-form"'):
        assert part in page.text
    debtor = re.search(r'id="case-debtor">([^<]*)<', page.text)
    assert debtor is not None and "*" in debtor.group(1)  # masked for the legal role
    detail = lawyer.get(f"/api/v1/legal/cases/{case}/detail").json()
    assert detail["claim"] > 0 and detail["limitation_date"]
    costs, audit = _count(db, LegalCaseCost), _count(db, AuditEvent)
    bad = lawyer.post(
        f"/legal/cases/{case}/costs?lang={lang}",
        data={"kind": "court_fee", "amount": "12.345", "csrf_token": token},
    )
    assert bad.status_code == 422 and 'id="amount-error"' in bad.text
    assert 'value="12.345"' in bad.text
    words = "最多两位小数" if lang == "zh-CN" else "at most 2 decimals"
    assert words in bad.text
    assert (_count(db, LegalCaseCost), _count(db, AuditEvent)) == (costs, audit)
    good = lawyer.post(
        f"/legal/cases/{case}/costs",
        data={"kind": "court_fee", "amount": "¥1,250.50", "csrf_token": token},
    )
    assert good.status_code == 200 and "1,250.50" in good.text
    assert _count(db, LegalCaseCost) == costs + 1
    assert (
        db.conn.execute(
            select(func.count()).where(AuditEvent.action == "legal.case.cost")
        ).scalar_one()
        >= 1
    )
    api = lawyer.post(
        f"/api/v1/legal/cases/{case}/costs", json={"kind": "lawyer_fee", "amount": "3000"}
    )
    assert api.status_code == 201 and api.json()["costs"]["fen"] == 125_050 + 300_000
    assert (
        sign_in("agent1")
        .post(f"/api/v1/legal/cases/{case}/costs", json={"kind": "lawyer_fee", "amount": "1"})
        .status_code
        == 403
    )


def test_a_document_downloads_alone_under_its_chinese_name(client, sign_in, db) -> None:
    lawyer = sign_in("legal1")
    case = _open_case(lawyer)
    ref = db.conn.execute(select(LegalCase.loan_id).where(LegalCase.id == case)).scalar_one()
    assert ref
    for url in (
        f"/legal/cases/{case}/documents/case-{case}-amounts.csv",
        f"/api/v1/legal/cases/{case}/documents/case-{case}-amounts.csv",
    ):
        answer = lawyer.get(url)
        assert answer.status_code == 200
        disposition = answer.headers["content-disposition"]
        assert f'filename="case-{case}-amounts.csv"' in disposition
        encoded = re.search(r"filename\*=UTF-8''(\S+)", disposition)
        assert encoded is not None
        assert unquote(encoded.group(1)).startswith(f"案件{case}-诉请金额-")
        assert unquote(encoded.group(1)).endswith(".csv")
    unmasked = db.conn.execute(
        select(func.count()).where(AuditEvent.action == "pii.unmask")
    ).scalar_one()
    assert unmasked == 0  # the amounts carry no personal data: nothing unmasked
    assert lawyer.get(f"/legal/cases/{case}/documents/case-{case}-x.csv").status_code == 404
    assert lawyer.get(f"/legal/cases/{case}/documents/case-999-amounts.csv").status_code == 404
