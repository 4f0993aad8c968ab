"""Experiment readouts from the web and the API (issue 16, item 1): the list, a readout
with its arms, comparisons and verdicts, promotion (audited; a reason required when the
evidence is weak; refusals clear, nothing stored), permissions and bad input.

The web test book has one completed run (its m1 experiment splits the m1 accounts), so
every readout here is small: "not enough data yet" is the verdict, and promotion needs a
reason."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from forbear.store.audit import AuditEvent
from forbear.store.strategies import StrategyVersion

X = "m1_callback_timing"


def _token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def _versions(db) -> int:  # type: ignore[no-untyped-def]
    return int(db.conn.execute(select(func.count()).select_from(StrategyVersion)).scalar_one())


def _promotions(db) -> int:  # type: ignore[no-untyped-def]
    return int(
        db.conn.execute(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "experiment.promote")
        ).scalar_one()
    )


def test_list_and_readout_pages(client, sign_in) -> None:  # type: ignore[no-untyped-def]
    boss = sign_in("super1")
    listing = boss.get("/experiments")
    assert listing.status_code == 200
    assert f'data-experiment="{X}"' in listing.text and "冠军组" in listing.text
    page = boss.get(f"/experiments/{X}")
    assert page.status_code == 200, page.text
    for arm in ("champion", "challenger", "control"):
        assert f'<tr data-arm="{arm}">' in page.text
    assert 'data-reference="champion"' in page.text and 'data-reference="control"' in page.text
    assert "户均回收金额" in page.text and "最小可检测差异" in page.text
    assert "数据尚不足" in page.text  # one run day: too few accounts per arm
    assert 'id="promote-form"' in page.text
    english = boss.get(f"/experiments/{X}", params={"lang": "en"})
    assert "Not enough data yet" in english.text and "Minimum detectable effect" in english.text


def test_bad_input_and_permissions(client, sign_in) -> None:  # type: ignore[no-untyped-def]
    boss = sign_in("super1")
    assert boss.get("/experiments/nope").status_code == 404
    assert boss.get("/experiments/NOT-AN-ID").status_code in (404, 422)
    bad = boss.get(f"/experiments/{X}", params={"from": "2026-13-01"})
    assert bad.status_code == 422 and "from" in bad.text
    backwards = boss.get(f"/experiments/{X}", params={"from": "2026-11-30", "to": "2026-11-01"})
    assert backwards.status_code == 422
    client.cookies.clear()
    agent = sign_in("agent1")
    assert agent.get("/experiments").status_code == 403
    assert agent.get("/api/v1/experiments").status_code == 403


def test_promote_from_the_page_needs_a_reason_then_stores_a_candidate(client, sign_in, db) -> None:  # type: ignore[no-untyped-def]
    boss = sign_in("super1")
    token = _token(boss.get(f"/experiments/{X}").text)
    before = _versions(db)
    refused = boss.post(
        f"/experiments/{X}/promote",
        data={"arm": "challenger", "reason": "", "csrf_token": token},
        follow_redirects=False,
    )
    assert refused.status_code == 422 and 'id="promote-error"' in refused.text
    assert "请填写推广理由" in refused.text
    ghost = boss.post(
        f"/experiments/{X}/promote",
        data={"arm": "ghost", "reason": "x", "csrf_token": token},
        follow_redirects=False,
    )
    assert ghost.status_code == 422 and "no arm" in ghost.text
    assert _versions(db) == before and _promotions(db) == 0
    done = boss.post(
        f"/experiments/{X}/promote",
        data={"arm": "challenger", "reason": "团队容量允许更早回访", "csrf_token": token},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    assert done.headers["location"].startswith("/strategies?added=")
    assert _versions(db) == before + 1 and _promotions(db) == 1
    listing = boss.get(done.headers["location"])
    assert "待启用" in listing.text


def test_api_list_readout_and_promote(client, sign_in, db) -> None:  # type: ignore[no-untyped-def]
    boss = sign_in("super1")
    listed = boss.get("/api/v1/experiments")
    assert listed.status_code == 200
    item = next(x for x in listed.json()["items"] if x["id"] == X)
    assert item["champion"] == "champion" and item["control"] == "control"
    readout = boss.get(f"/api/v1/experiments/{X}/readout")
    assert readout.status_code == 200, readout.text
    body = readout.json()
    arms = {a["arm"]: a for a in body["readout"]["arms"]}
    assert set(arms) == {"champion", "challenger", "control"}
    assert sum(a["accounts"] for a in arms.values()) > 0
    first = body["readout"]["comparisons"][0]
    assert first["verdict"]["kind"] == "insufficient" and first["differences"]
    assert boss.get(f"/api/v1/experiments/{X}/readout", params={"from": "x"}).status_code == 422
    assert boss.get("/api/v1/experiments/nope/readout").status_code == 404
    before = _versions(db)
    weak = boss.post(f"/api/v1/experiments/{X}/promote", json={"arm": "challenger"})
    assert weak.status_code == 422 and "give a reason" in weak.text
    control = boss.post(f"/api/v1/experiments/{X}/promote", json={"arm": "control", "reason": "x"})
    assert control.status_code == 422 and "hold-out" in control.text
    unknown = boss.post(f"/api/v1/experiments/{X}/promote", json={"arm": "b", "extra": 1})
    assert unknown.status_code == 422
    assert _versions(db) == before
    done = boss.post(
        f"/api/v1/experiments/{X}/promote", json={"arm": "challenger", "reason": "试点"}
    )
    assert done.status_code == 201, done.text
    assert done.json()["treatment"] == "m1_early_call" and done.json()["weak"] is True
    assert _versions(db) == before + 1 and _promotions(db) == 1
