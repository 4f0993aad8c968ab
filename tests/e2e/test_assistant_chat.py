"""The borrower assistant in a real browser at a phone's size (issue 14): a borrower signs in
with the code, opens the chat, asks what they owe and makes a promise through the quick
replies (the script posts to the API and appends the answers without a reload), asks for a
person and sees the agent's reply appear; then the same chat without JavaScript (plain
form, POST/redirect/GET). Screenshots of each step."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from e2e.conftest import SCREENSHOTS, _free_port, sign_in
from forbear.bootstrap import Forbear, bootstrap
from forbear.domain.access import Actor, Role
from forbear.services import assistant as conversations
from forbear.services import portal as svc
from forbear.settings import Environment, Settings
from forbear.store.crypto import Contexts
from forbear.store.models import Borrower, Loan
from forbear.store.portal import PortalOutbox
from forbear.store.promises import Promise
from forbear.web import create_app
from web.conftest import MORNING, TEST_KEY, Book, Clock, shared_sqlite_book

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
PHONE = {"width": 390, "height": 844}


@dataclass
class ChatServer:
    url: str
    book: Book
    forbear: Forbear

    def shot(self, page: Any, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"assistant-{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def chat_server(
    tmp_path_factory: pytest.TempPathFactory, browser_path: str
) -> Iterator[ChatServer]:
    """The e2e server with the trained intent model and its database at hand."""
    import uvicorn

    from assistant_model import trained_model_dir

    directory = tmp_path_factory.mktemp("e2e-assistant")
    book = shared_sqlite_book(tmp_path_factory, directory / "forbear.db")
    settings = Settings(
        environment=Environment.DEVELOPMENT,
        data_dir=directory,
        encryption_key=base64.b64encode(TEST_KEY).decode(),  # type: ignore[arg-type]
        assistant_model_dir=trained_model_dir(),
    )
    forbear = bootstrap(settings)
    app = create_app(forbear, clock=Clock(MORNING))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the web server did not start")
        time.sleep(0.05)
    try:
        yield ChatServer(f"http://127.0.0.1:{port}", book, forbear)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        forbear.close()


def _sign_in(page: Any, server: ChatServer, loan_id: int) -> int:
    """Sign in as the borrower of ``loan_id`` with the code from the portal outbox."""
    with server.forbear.transaction() as conn:
        borrower_id, blob = conn.execute(
            select(Borrower.id, Borrower.mobile_enc)
            .join(Loan, Loan.borrower_id == Borrower.id)
            .where(Loan.id == loan_id)
        ).one()
        mobile = server.forbear.vault.decrypt(blob, context=Contexts.BORROWER_MOBILE)
    page.goto(f"{server.url}/portal/sign-in")
    page.fill("#mobile", mobile)
    page.click("#send-code")
    page.wait_for_selector("#code-sent")
    with server.forbear.transaction() as conn:
        message_id = conn.execute(
            select(func.max(PortalOutbox.id)).where(PortalOutbox.borrower_id == borrower_id)
        ).scalar_one()
        code = svc.outbox_code(conn, server.forbear.vault, message_id)
    page.fill("#code", code)
    page.click("#verify")
    page.wait_for_url("**/portal/home")
    return int(borrower_id)


def _promises(server: ChatServer, borrower_id: int) -> list[tuple[int, str]]:
    with server.forbear.transaction() as conn:
        return [
            (int(amount), str(source))
            for amount, source in conn.execute(
                select(Promise.amount, Promise.source).where(Promise.borrower_id == borrower_id)
            ).all()
        ]


def test_a_borrower_asks_the_balance_and_promises_in_the_chat(
    browser: Any, chat_server: ChatServer
) -> None:
    server = chat_server
    context = browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        borrower_id = _sign_in(page, server, server.book.queue_loan)
        page.click("#nav-chat")
        page.wait_for_url("**/portal/chat")
        page.wait_for_selector("#chat-greeting")
        server.shot(page, "01-chat")
        url = page.url

        page.fill("#chat-text", "我还欠多少钱？")
        page.click("#chat-send")
        answer = page.locator("#chat-log li.turn-assistant").last
        page.wait_for_function(
            "() => document.querySelectorAll('#chat-log li.turn-assistant').length >= 1"
            " && !document.getElementById('chat-greeting')"
        )
        assert "¥" in answer.inner_text()
        assert page.url == url  # no reload: the script appended the answer
        assert (
            page.locator("#chat-log li.turn-borrower").last.inner_text().endswith("我还欠多少钱？")
        )
        server.shot(page, "02-balance")

        before = _promises(server, borrower_id)
        page.fill("#chat-text", "我下周五还2000元")
        page.click("#chat-send")
        page.wait_for_selector("#chat-options button.chat-option")
        assert "¥2,000.00" in page.locator("#chat-log li.turn-assistant").last.inner_text()
        server.shot(page, "03-promise-read-back")
        page.locator("#chat-options button.chat-option").first.click()  # 对
        page.wait_for_function(
            "() => document.querySelectorAll('#chat-options button').length === 0"
        )
        page.wait_for_function(
            "() => [...document.querySelectorAll('#chat-log li.turn-assistant')].pop()"
            ".innerText.includes('已记录')"
        )
        server.shot(page, "04-promise-taken")
        after = _promises(server, borrower_id)
        # the promise is the portal's use case's own (source portal): 2,000.00 yuan in fen
        assert sorted(after) == sorted([*before, (200_000, "portal")])

        # asking for a person: the notice, then an agent takes over on the workbench and
        # answers; the chat reads the transcript again and shows the agent's reply
        page.fill("#chat-text", "我要找人工客服")
        page.click("#chat-send")
        page.wait_for_selector("#chat-handed-over", state="visible")
        conversation_id = int(page.locator("#chat-conversation").input_value())
        agent = Actor("web:agent1", Role.AGENT)
        with server.forbear.transaction() as conn:
            conversations.take_over(conn, agent, server.forbear.vault, conversation_id, MORNING)
            conversations.agent_reply(
                conn, agent, server.forbear.vault, conversation_id, "您好，我是人工客服。", MORNING
            )
        page.wait_for_selector("#chat-log li.turn-agent", timeout=20_000)
        assert "我是人工客服" in page.locator("#chat-log li.turn-agent").last.inner_text()
        assert page.locator("#chat-agent-joined").is_visible()
        server.shot(page, "05-agent-joined")

        # the page read again shows the whole conversation from the server
        page.reload()
        log = page.locator("#chat-log").inner_text()
        assert "我还欠多少钱？" in log and "已记录" in log
        page.goto(f"{server.url}/portal/chat?lang=en")
        assert page.locator("h1").inner_text() == "Assistant (24 hours)"
        server.shot(page, "06-chat-en")
    finally:
        context.close()


def test_the_chat_works_without_javascript(browser: Any, chat_server: ChatServer) -> None:
    server = chat_server
    context = browser.new_context(
        viewport=PHONE, locale="zh-CN", is_mobile=True, java_script_enabled=False
    )
    page = context.new_page()
    try:
        borrower_id = _sign_in(page, server, server.book.m2_plus_loan)
        page.goto(f"{server.url}/portal/chat")
        page.fill("#chat-text", "我下周五还1000元")
        page.click("#chat-send")
        page.wait_for_load_state()
        assert page.url.split("#")[0].endswith("/portal/chat")  # POST, redirect, GET
        assert "我下周五还1000元" in page.locator("#chat-log").inner_text()
        assert "¥1,000.00" in page.locator("#chat-log li.turn-assistant").last.inner_text()
        server.shot(page, "07-no-js-read-back")
        before = len(_promises(server, borrower_id))
        page.locator("#chat-options button.chat-option").first.click()
        page.wait_for_load_state()
        assert len(_promises(server, borrower_id)) == before + 1
        assert "已记录" in page.locator("#chat-log li.turn-assistant").last.inner_text()
        server.shot(page, "08-no-js-promise-taken")
        page.fill("#chat-text", "   ")
        page.click("#chat-send")
        page.wait_for_load_state()
        assert page.locator("#chat-notice").is_visible()
    finally:
        context.close()


def test_an_agent_takes_over_and_answers_on_the_workbench(
    browser: Any, chat_server: ChatServer
) -> None:
    server = chat_server
    with server.forbear.transaction() as conn:
        borrower_id = conn.execute(
            select(Loan.borrower_id).where(Loan.id == server.book.other_loan)
        ).scalar_one()  # a borrower of no other test here: a conversation of its own
        found = conversations.open_conversation(
            conn, server.forbear.vault, channel="portal", now=MORNING, borrower_id=borrower_id
        )
        conversations.record_turn(
            conn, server.forbear.vault, found, role="borrower", text="我想和真人聊", now=MORNING
        )
        conversation_id = conversations.hand_over(
            conn, found, reason="asked", now=MORNING, intent="human"
        ).id
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    try:
        sign_in(page, server)  # agent1
        page.click("#nav-assistant")
        page.wait_for_selector("#assistant-queue")
        row = page.locator(f"#conversation-{conversation_id}")
        assert "要求人工" in row.inner_text()
        server.shot(page, "09-queue")
        row.locator("a.button").click()
        page.wait_for_selector("#transcript")
        assert "我想和真人聊" in page.locator("#transcript").inner_text()
        page.click("#take-over")
        page.wait_for_selector("#reply-form")
        page.fill("#reply-text", "不还钱就让公安上门抓你")
        page.click("#reply-send")
        page.wait_for_selector("#reply-refused")
        server.shot(page, "10-reply-refused")
        page.fill("#reply-text", "您好，我是人工客服，请问有什么可以帮您？")
        page.click("#reply-send")
        page.wait_for_selector("#assistant-done")
        assert "请问有什么可以帮您" in page.locator("#transcript").inner_text()
        server.shot(page, "11-replied")
        page.click("#close")
        page.wait_for_url("**/assistant/queue?done=closed")
        assert page.locator(f"#conversation-{conversation_id}").count() == 0
    finally:
        context.close()
