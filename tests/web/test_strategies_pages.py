"""Strategies from the web (issue 15, item 8): list, view in words, compare, pre-launch
check, add (validated; nothing stored on refusal), activate; permission in the use case;
concurrent activations leave exactly one active version, with no error."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from tests.web.committed import Committed, committed_book
from tests.web.conftest import MORNING

from forbear.domain.access import Actor, Role
from forbear.domain.errors import PermissionDenied
from forbear.domain.strategy import default_text
from forbear.services import strategies as svc
from forbear.store.audit import AuditEvent
from forbear.store.strategies import StrategyVersion

CHALLENGER = (
    default_text()
    .replace(
        "{on_dpd: 7, channel: call, template: CN.M1.CALLBACK",
        "{on_dpd: 5, channel: call, template: CN.M1.CALLBACK",
    )
    .replace("      - {day: 10, channel: email, template: CN.EDU.BUDGET, purpose: educate}\n", "")
)
SUPERVISOR = Actor("web:super1", Role.SUPERVISOR)


def _form_token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def _versions(db) -> int:  # type: ignore[no-untyped-def]
    return int(db.conn.execute(select(func.count()).select_from(StrategyVersion)).scalar_one())


def test_a_supervisor_adds_compares_checks_and_activates(client, sign_in, db) -> None:  # type: ignore[no-untyped-def]
    boss = sign_in("super1")
    listing = boss.get("/strategies")
    assert listing.status_code == 200 and 'id="default-in-use"' in listing.text
    token = _form_token(listing.text)
    for text in (default_text(), CHALLENGER):
        added = boss.post(
            "/strategies/add", data={"yaml_text": text, "csrf_token": token}, follow_redirects=False
        )
        assert added.status_code == 303, added.text
    first, second = db.conn.execute(
        select(StrategyVersion.id).order_by(StrategyVersion.id)
    ).scalars()
    listing = boss.get(f"/strategies?added={second}")
    assert "已保存 CN_default 第 2 版（待启用）" in listing.text
    view = boss.get("/strategies/view", params={"id": first})
    assert "逾期天数不少于 1" in view.text and "逾期第 7 天：人工电话（跟进）" in view.text
    compared = boss.get("/strategies/compare", params={"a": first, "b": second})
    assert compared.status_code == 200
    assert "不再使用的渠道：电子邮件" in compared.text  # plan_offer lost its e-mail
    assert "逾期第 5 天：人工电话（跟进）" in compared.text  # m1_gentle's call moved
    assert 'data-segment="m1"' not in compared.text  # segments did not change
    # the compare form's "shipped default" choice sends an empty id
    from_default = boss.get("/strategies/compare", params={"a": "", "b": str(second)})
    assert from_default.status_code == 200 and "内置默认策略" in from_default.text
    checked = boss.get("/strategies/check", params={"id": second})
    assert checked.status_code == 200 and 'id="check-verdict"' in checked.text
    assert "各分群的账户数" in checked.text
    assert _versions(db) == 2  # the check wrote nothing
    activated = boss.post(
        "/strategies/activate",
        data={"strategy_id": second, "csrf_token": token},
        follow_redirects=False,
    )
    assert activated.status_code == 303
    listing = boss.get(activated.headers["location"])
    assert "已启用 CN_default 第 2 版" in listing.text
    assert re.search(rf'data-version="{second}" data-status="active"', listing.text)
    actions = db.conn.execute(
        select(AuditEvent.action, AuditEvent.actor).where(AuditEvent.action.like("strategy.%"))
    ).all()
    assert sorted(actions) == [
        ("strategy.activate", "web:super1"),
        ("strategy.add", "web:super1"),
        ("strategy.add", "web:super1"),
    ]
    english = boss.get("/strategies/view", params={"id": first, "lang": "en"})
    assert "days past due at least 1" in english.text


def test_a_refused_file_keeps_the_text_says_where_and_stores_nothing(client, sign_in, db) -> None:  # type: ignore[no-untyped-def]
    boss = sign_in("super1")
    token = _form_token(boss.get("/strategies").text)
    broken = default_text().replace("treatment: m1_gentle", "treatment: m1_unknown")
    answer = boss.post("/strategies/add", data={"yaml_text": broken, "csrf_token": token})
    assert answer.status_code == 422
    assert 'id="add-error"' in answer.text and "策略文件未通过校验，未保存任何内容。" in answer.text
    assert re.search(r"第 \d+ 行", answer.text)
    assert "treatment: m1_unknown" in answer.text  # the typed text is kept
    empty = boss.post("/strategies/add", data={"yaml_text": "  ", "csrf_token": token})
    assert empty.status_code == 422 and "请粘贴策略文件内容或选择文件。" in empty.text
    upload = boss.post(
        "/strategies/add",
        data={"csrf_token": token},
        files={"upload": ("s.yaml", b"\xff\xfe bad", "text/yaml")},
    )
    assert upload.status_code == 422 and "UTF-8" in upload.text
    assert _versions(db) == 0


def test_only_strategy_managers_may_use_it(client, sign_in, db) -> None:  # type: ignore[no-untyped-def]
    agent = sign_in("agent1")
    assert agent.get("/strategies").status_code == 403
    assert agent.post("/strategies/activate", data={"strategy_id": "1"}).status_code == 403
    with pytest.raises(PermissionDenied):
        svc.add_strategy_text(
            db.conn, default_text(), actor=Actor("web:agent1", Role.AGENT), now=MORNING
        )
    info = svc.add_strategy_text(db.conn, default_text(), actor=SUPERVISOR, now=MORNING)
    with pytest.raises(PermissionDenied):
        svc.activate(db.conn, info.id, Actor("web:legal1", Role.LEGAL), now=MORNING)
    assert _versions(db) == 1


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def committed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Committed]:
    with committed_book(request, request.param, tmp_path) as found:
        yield found


def test_concurrent_activations_leave_exactly_one_active(committed: Committed) -> None:
    forbear = committed.forbear
    with forbear.transaction() as conn:
        ids = [
            svc.add_strategy_text(conn, text, actor=SUPERVISOR, now=MORNING).id
            for text in (default_text(), CHALLENGER, CHALLENGER.replace("on_dpd: 5", "on_dpd: 6"))
        ]
    n = 6
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            with forbear.transaction() as conn:
                svc.activate(conn, ids[i % len(ids)], SUPERVISOR, now=MORNING)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    with forbear.transaction() as conn:
        active = (
            conn.execute(select(StrategyVersion.id).where(StrategyVersion.status == "active"))
            .scalars()
            .all()
        )
        events = conn.execute(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "strategy.activate")
        ).scalar_one()
    assert len(active) == 1
    assert 1 <= events <= n
