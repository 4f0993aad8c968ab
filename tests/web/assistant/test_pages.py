"""The assistant's pages on the test book (SQLite and PostgreSQL): the borrower's chat on the
portal (sign-in, CSRF, the transcript, the notices, bad input never an error page) and the
agents' handoff queue and conversation page (permission, scope, take over, reply through the
content filter, release, close, double submissions)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from forbear.services import assistant as conversations
from forbear.store.assistant import AssistantConversation, AssistantTurn
from web.assistant.conftest import start_conversation, waiting_conversation
from web.portal_helpers import PortalBorrower, form_token

pytestmark = pytest.mark.usefixtures("db")


def turns(db, conversation_id: int) -> list[tuple[str, str | None]]:  # type: ignore[no-untyped-def]
    return [(t.role, t.text) for t in conversations.turns_of(db.conn, db.vault, conversation_id)]


def status_of(db, conversation_id: int) -> tuple[str, str | None]:  # type: ignore[no-untyped-def]
    row = db.conn.execute(
        select(AssistantConversation.status, AssistantConversation.agent).where(
            AssistantConversation.id == conversation_id
        )
    ).one()
    return row.status, row.agent


def staff_token(client: TestClient, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


# ---------------------------------------------------------------------------- the chat


def test_the_chat_needs_a_borrower_session(client: TestClient) -> None:
    answer = client.get("/portal/chat", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/portal/sign-in"
    posted = client.post("/portal/chat", data={"text": "hi"}, follow_redirects=False)
    assert posted.status_code == 303 and posted.headers["location"] == "/portal/sign-in"


def test_the_chat_page_in_chinese_and_english(signed: TestClient) -> None:
    page = signed.get("/portal/chat")
    assert page.status_code == 200
    assert "智能客服" in page.text and 'id="chat-form"' in page.text
    assert 'href="/portal/chat"' in page.text  # the portal's navigation
    assert '<script src="/static/assistant-chat.js" defer>' in page.text
    assert form_token(page.text)
    english = signed.get("/portal/chat?lang=en")
    assert "Assistant (24 hours)" in english.text


def test_a_post_without_the_csrf_token_is_refused_and_writes_nothing(
    signed: TestClient, db
) -> None:  # type: ignore[no-untyped-def]
    before = db.conn.execute(select(func.count()).select_from(AssistantTurn)).scalar_one()
    answer = signed.post("/portal/chat", data={"text": "我还欠多少"}, follow_redirects=False)
    assert answer.status_code == 403
    assert db.conn.execute(select(func.count()).select_from(AssistantTurn)).scalar_one() == before


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_an_empty_message_gets_a_notice_not_an_error(signed: TestClient, db, text: str) -> None:  # type: ignore[no-untyped-def]
    token = form_token(signed.get("/portal/chat").text)
    before = db.conn.execute(select(func.count()).select_from(AssistantTurn)).scalar_one()
    answer = signed.post("/portal/chat", data={"text": text, "csrf_token": token})
    assert answer.status_code == 200
    assert 'id="chat-notice"' in answer.text and "请输入内容后再发送" in answer.text
    assert db.conn.execute(select(func.count()).select_from(AssistantTurn)).scalar_one() == before


def test_the_transcript_and_the_notice_that_a_person_joined(
    signed: TestClient, db, clock, sign_in, me: PortalBorrower
) -> None:  # type: ignore[no-untyped-def]
    found = waiting_conversation(db, clock, me.borrower_id)
    page = signed.get("/portal/chat")
    assert "我要找人工客服" in page.text
    assert re.search(r'id="chat-agent-joined"[^>]*hidden', page.text)
    assert f'name="conversation_id" id="chat-conversation" value="{found.id}"' in page.text
    conversations.take_over(db.conn, agent_actor(), db.vault, found.id, clock.now)
    conversations.agent_reply(
        db.conn,
        agent_actor(),
        db.vault,
        found.id,
        "您好，我是客服小王，请问有什么可以帮您？",
        clock.now,
    )
    page = signed.get("/portal/chat")
    assert "人工客服已加入对话" in page.text
    assert not re.search(r'id="chat-agent-joined"[^>]*hidden', page.text)
    assert "我是客服小王" in page.text
    assert "web:agent1" not in page.text  # the borrower is told "agent", never who


def test_a_conversation_held_through_the_app_is_shown_but_not_continued_on_the_portal(
    signed: TestClient, db, clock, me: PortalBorrower
) -> None:  # type: ignore[no-untyped-def]
    start_conversation(db, clock, me.borrower_id, channel="api", turns=(("borrower", "来自 App"),))
    page = signed.get("/portal/chat")
    assert "来自 App" in page.text
    assert 'name="conversation_id" id="chat-conversation" value=""' in page.text


def test_another_borrowers_conversation_never_shows(
    signed: TestClient, db, clock, me: PortalBorrower, book
) -> None:  # type: ignore[no-untyped-def]
    from web.assistant.conftest import other_borrower

    start_conversation(db, clock, other_borrower(db, me), turns=(("borrower", "别人的秘密"),))
    page = signed.get("/portal/chat")
    assert "别人的秘密" not in page.text


# ---------------------------------------------------------------------------- handoff


def agent_actor():  # type: ignore[no-untyped-def]
    from forbear.domain.access import Actor, Role

    return Actor("web:agent1", Role.AGENT)


def test_the_queue_needs_the_contact_permission(client: TestClient, sign_in) -> None:  # type: ignore[no-untyped-def]
    answer = client.get("/assistant/queue", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/sign-in")
    assert sign_in("compliance1").get("/assistant/queue").status_code == 403


def test_the_queue_shows_waiting_conversations_in_scope_only(
    client: TestClient, sign_in, db, clock, me: PortalBorrower
) -> None:  # type: ignore[no-untyped-def]
    found = waiting_conversation(db, clock, me.borrower_id, reason="crisis")
    conversations.save_state(
        db.conn,
        db.vault,
        found,
        state="promise_confirm",
        slots={"amount": 200_000, "date": "2026-11-27", "loan_id": me.loan_id},
        misses=0,
        language="zh",
        now=clock.now,
    )
    page = sign_in("agent1").get("/assistant/queue")
    assert page.status_code == 200
    row = page.text.split(f'id="conversation-{found.id}"')[1].split("</tr>")[0]
    assert "危机" in row and "已核验" in row and "要求人工" in row
    assert "¥2,000.00" in row and "2026-11-27" in row
    detail = sign_in("agent1").get(f"/assistant/conversations/{found.id}")
    assert f'href="/accounts/{me.loan_id}"' in detail.text
    assert 'id="nav-assistant"' in page.text
    # an agency agent sees the loans placed with the agency only
    agency = sign_in("agency1")
    assert f'id="conversation-{found.id}"' not in agency.get("/assistant/queue").text
    assert agency.get(f"/assistant/conversations/{found.id}").status_code == 404


def test_take_over_reply_release_close(client: TestClient, sign_in, db, clock, me) -> None:  # type: ignore[no-untyped-def]
    found = waiting_conversation(db, clock, me.borrower_id)
    agent = sign_in("agent1")
    path = f"/assistant/conversations/{found.id}"
    page = agent.get(path)
    assert "我要找人工客服" in page.text and 'id="take-over"' in page.text
    token = staff_token(agent, path)
    taken = agent.post(f"{path}/take-over", data={"csrf_token": token}, follow_redirects=False)
    assert taken.status_code == 303 and taken.headers["location"] == f"{path}?done=taken"
    assert status_of(db, found.id) == ("agent", "web:agent1")
    assert ("system", "人工客服已加入对话。") in turns(db, found.id)
    # a second click changes nothing and is no error
    again = agent.post(f"{path}/take-over", data={"csrf_token": token}, follow_redirects=False)
    assert again.headers["location"] == f"{path}?done=taken"
    assert turns(db, found.id).count(("system", "人工客服已加入对话。")) == 1
    page = agent.get(f"{path}?done=taken")
    assert 'id="reply-form"' in page.text and "已接管对话" in page.text
    text = "您好，我来帮您看一下还款安排。"
    sent = agent.post(f"{path}/reply", data={"csrf_token": token, "text": text})
    assert sent.status_code == 200 and "回复已发送" in sent.text
    # the same reply submitted twice (a double click) is recorded once
    agent.post(f"{path}/reply", data={"csrf_token": token, "text": text})
    assert turns(db, found.id).count(("agent", text)) == 1
    released = agent.post(f"{path}/release", data={"csrf_token": token}, follow_redirects=False)
    assert released.headers["location"] == f"{path}?done=released"
    assert status_of(db, found.id) == ("bot", None)
    closed = agent.post(f"{path}/close", data={"csrf_token": token}, follow_redirects=False)
    assert closed.headers["location"] == "/assistant/queue?done=closed"
    assert status_of(db, found.id)[0] == "closed"


def test_a_reply_the_content_filter_refuses_is_shown_and_not_sent(
    client: TestClient, sign_in, db, clock, me
) -> None:  # type: ignore[no-untyped-def]
    found = waiting_conversation(db, clock, me.borrower_id)
    conversations.take_over(db.conn, agent_actor(), db.vault, found.id, clock.now)
    agent = sign_in("agent1")
    path = f"/assistant/conversations/{found.id}"
    token = staff_token(agent, path)
    before = turns(db, found.id)
    threat = "再不还钱就通知你单位和家人，还要让公安上门抓你。"
    refused = agent.post(f"{path}/reply", data={"csrf_token": token, "text": threat})
    assert refused.status_code == 422
    assert 'id="reply-refused"' in refused.text and "未通过内容合规检查" in refused.text
    assert threat in refused.text  # kept in the box for the agent to rewrite
    assert turns(db, found.id) == before
    empty = agent.post(f"{path}/reply", data={"csrf_token": token, "text": "  "})
    assert empty.status_code == 422 and 'id="reply-invalid"' in empty.text
    assert turns(db, found.id) == before


def test_handoff_forms_need_the_csrf_token_and_another_agent_cannot_answer(
    client: TestClient, sign_in, db, clock, me
) -> None:  # type: ignore[no-untyped-def]
    found = waiting_conversation(db, clock, me.borrower_id)
    path = f"/assistant/conversations/{found.id}"
    supervisor = sign_in("super1")
    del supervisor.headers["X-CSRF-Token"]
    assert supervisor.post(f"{path}/take-over", data={}).status_code == 403
    assert status_of(db, found.id) == ("waiting", None)
    conversations.take_over(db.conn, agent_actor(), db.vault, found.id, clock.now)
    token = staff_token(supervisor, path)
    lost = supervisor.post(f"{path}/take-over", data={"csrf_token": token}, follow_redirects=False)
    assert lost.headers["location"] == f"{path}?done=not_waiting"
    reply = supervisor.post(
        f"{path}/reply", data={"csrf_token": token, "text": "你好"}, follow_redirects=False
    )
    assert reply.headers["location"] == f"{path}?done=not_yours"
    assert status_of(db, found.id) == ("agent", "web:agent1")
    assert supervisor.get("/assistant/conversations/2000000000").status_code == 404
