"""The collector's workbench in a real browser (issue 15, items 3 and 4):

(a) an agent works three accounts from the queue -- call, outcome with a note, "save and
    next" -- and the queue then shows them worked with their last outcome;
(b) a form submitted after the session expired keeps what was typed: the sign-in page
    says so, and after signing in the agent is back on the form with the note filled in.

Its own server over its own copy of the test book, where three queue items of the team
are given to agent ``zh-001`` (the shared book gives that agent one).
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import insert, select, update

from e2e.conftest import Server, _free_port, sign_in
from forbear.bootstrap import bootstrap
from forbear.settings import Environment, Settings
from forbear.store.models import AccountState, Loan
from forbear.store.runs import WorkQueueItem
from forbear.store.web import StaffSession
from forbear.web import create_app
from web.conftest import AS_OF, MORNING, TEST_KEY, Clock, shared_sqlite_book

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
SHOTS = Path("/tmp/shots-H3")
NOTES = ("借款人同意周五前还款", "本人不在，家人转告", "号码占线，稍后再拨")


@pytest.fixture(scope="module")
def flow(
    tmp_path_factory: pytest.TempPathFactory, browser_path: str
) -> Iterator[tuple[Server, object]]:
    import uvicorn

    directory = tmp_path_factory.mktemp("e2e-workbench")
    book = shared_sqlite_book(tmp_path_factory, directory / "forbear.db")
    settings = Settings(
        environment=Environment.DEVELOPMENT,
        data_dir=directory,
        encryption_key=base64.b64encode(TEST_KEY).decode(),  # type: ignore[arg-type]
    )
    forbear = bootstrap(settings)
    with forbear.transaction() as conn:
        # the book's run gives zh-001 one item: give the agent a dozen more overdue accounts
        first = conn.execute(
            select(WorkQueueItem).where(WorkQueueItem.as_of == AS_OF).limit(1)
        ).one()
        overdue = conn.execute(
            select(AccountState.loan_id, Loan.borrower_id)
            .join(Loan, Loan.id == AccountState.loan_id)
            .where(
                AccountState.as_of == AS_OF,
                AccountState.bucket.in_(["M1", "M2", "M3"]),
                AccountState.loan_id.not_in([book.placed_loan]),
                # not the loans the run queued already (its location calls included)
                AccountState.loan_id.not_in(
                    select(WorkQueueItem.loan_id).where(WorkQueueItem.as_of == AS_OF)
                ),
            )
            .order_by(AccountState.loan_id)
            .limit(12)
        ).all()
        conn.execute(
            insert(WorkQueueItem),
            [
                {
                    "as_of": AS_OF,
                    "loan_id": loan_id,
                    "action_index": 0,
                    "run_id": first.run_id,
                    "agent_id": "zh-001",
                    "team_id": first.team_id,
                    "borrower_id": borrower_id,
                    "rank": rank,
                    "channel": "call",
                    "template": None,
                    "carried": False,
                }
                for rank, (loan_id, borrower_id) in enumerate(overdue, start=2)
            ],
        )
    clock = Clock(MORNING)
    app = create_app(forbear, clock=clock)
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
        yield Server(f"http://127.0.0.1:{port}", clock, book), forbear
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        forbear.close()


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_an_agent_works_three_accounts_with_notes_and_next(page, flow) -> None:  # type: ignore[no-untyped-def]
    server, _ = flow
    sign_in(page, server)
    shot(page, "01-workbench")
    rows = page.locator("#queue tbody tr")
    assert rows.count() >= 3
    assert page.locator("#queue tr[data-worked='true']").count() == 0
    page.click("#start-next")  # 1 interaction: open the first unworked account
    worked: list[str] = []
    for n, note in enumerate(NOTES):
        page.wait_for_selector("#account-title")
        worked.append(page.url.split("/accounts/", 1)[1].split("#", 1)[0].split("?", 1)[0])
        page.click("#contact-form button[type=submit]")  # the call
        page.wait_for_selector("#outcome-form")
        radios = page.locator("#outcome-form input[name=outcome]:checked")
        assert radios.count() == 0  # no default outcome
        if n == 0:
            shot(page, "02-outcome-form")
        page.check(
            "#outcome-form input[value='right_party']"
            if n != 2
            else "#outcome-form input[value='busy']"
        )
        page.fill("#outcome-note", note)
        page.click("#outcome-next")  # outcome with note, and on to the next account
    page.wait_for_load_state()
    assert len(set(worked)) == 3
    page.goto(f"{server.url}/workbench")
    for loan_id in worked:
        row = page.locator(f"#queue tr[data-loan='{loan_id}']")
        assert row.get_attribute("data-worked") == "true"
    assert "占线" in page.locator(f"#queue tr[data-loan='{worked[2]}'] .last-outcome").inner_text()
    shot(page, "03-workbench-worked")
    page.goto(f"{server.url}/accounts/{worked[0]}#notes")
    assert NOTES[0] in page.locator("#notes-list").inner_text()
    shot(page, "04-account-notes")


def test_an_expired_session_on_submit_keeps_what_was_typed(page, flow) -> None:  # type: ignore[no-untyped-def]
    server, forbear = flow
    sign_in(page, server)
    account = f"{server.url}/accounts/{server.book.queue_loan}"
    page.goto(account)
    page.fill("#note", "借款人要求下午三点后再联系，手机尾号5678")
    with forbear.transaction() as conn:  # the session ends (expired, or revoked elsewhere)
        conn.execute(update(StaffSession).values(expires_at=MORNING))
    page.click("#note-form button[type=submit]")
    page.wait_for_url("**/sign-in**")
    notice = page.locator("#sign-in-notice").inner_text()
    assert "登录已过期" in notice and "恢复" in notice
    shot(page, "05-sign-in-kept")
    page.fill("#username", "agent1")
    page.fill("#password", "correct horse battery staple")
    page.click("form[action='/sign-in'] button[type=submit]")
    page.wait_for_url(f"{account}*")
    page.wait_for_selector("#form-restored")
    assert page.locator("#note").input_value() == "借款人要求下午三点后再联系，手机尾号5678"
    shot(page, "06-form-restored")
    page.click("#note-form button[type=submit]")
    page.wait_for_selector("#note-saved")
    assert "下午三点" in page.locator("#notes-list").inner_text()
    # the stash was used once: opening the page again shows an empty form
    page.goto(account)
    assert page.locator("#note").input_value() == ""
