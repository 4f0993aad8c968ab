"""The optional rephrasing model (issue 14, item 6) against a real HTTP server on
loopback (stdlib http.server): the answer is used only when it keeps every number of the
original, in the same language; a timeout, an error, a broken answer or a changed figure
falls back to the original."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from forbear.assistant.llm import LlmRephraser, from_settings, keeps_facts, numbers

ORIGINAL = "您承诺在 2026年12月11日（星期五）还款 ¥2,000.00，对吗？"

Behaviour = Callable[[dict[str, Any]], tuple[int, bytes, float]]


@pytest.fixture
def server() -> Iterator[tuple[str, list[dict[str, Any]], dict[str, Behaviour]]]:
    seen: list[dict[str, Any]] = []
    behaviour: dict[str, Behaviour] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append({"body": body, "auth": self.headers.get("Authorization")})
            status, payload, delay = behaviour["answer"](body)
            if delay:
                threading.Event().wait(delay)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up: a timeout
                pass

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1/chat/completions", seen, behaviour
    finally:
        httpd.shutdown()
        httpd.server_close()


def answer(text: str, status: int = 200, delay: float = 0.0) -> Behaviour:
    payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": text}}]})
    return lambda body: (status, payload.encode(), delay)


def test_a_faithful_rephrasing_is_used_and_the_request_is_openai_shaped(server: Any) -> None:
    url, seen, behaviour = server
    behaviour["answer"] = answer("请确认：您将于2026年12月11日（星期五）还款¥2,000.00，是吗？")
    llm = LlmRephraser(url, key="sk-test", model="tiny")
    assert (
        llm.rephrase(ORIGINAL, "zh")
        == "请确认：您将于2026年12月11日（星期五）还款¥2,000.00，是吗？"
    )
    [request] = seen
    assert request["auth"] == "Bearer sk-test"
    assert request["body"]["model"] == "tiny"
    assert [m["role"] for m in request["body"]["messages"]] == ["system", "user"]
    assert ORIGINAL in request["body"]["messages"][1]["content"]


@pytest.mark.parametrize(
    "text",
    [
        "您承诺在 2026年12月11日（星期五）还款 ¥3,000.00，对吗？",  # a changed amount
        "您承诺在 2026年12月12日还款 ¥2,000.00，对吗？",  # a changed day
        "您承诺还款，对吗？",  # figures dropped
        "You promised to pay ¥2,000.00 on 11 December 2026 (Friday)?",  # another language
        "",
    ],
)
def test_an_answer_that_changes_a_figure_or_the_language_is_not_used(
    server: Any, text: str
) -> None:
    url, _, behaviour = server
    behaviour["answer"] = answer(text)
    assert LlmRephraser(url, model="tiny").rephrase(ORIGINAL, "zh") is None


def test_errors_timeouts_and_broken_answers_fall_back(server: Any) -> None:
    url, _, behaviour = server
    behaviour["answer"] = answer("x", status=500)
    assert LlmRephraser(url, model="m").rephrase(ORIGINAL, "zh") is None
    behaviour["answer"] = lambda body: (200, b"not json", 0.0)
    assert LlmRephraser(url, model="m").rephrase(ORIGINAL, "zh") is None
    behaviour["answer"] = lambda body: (200, b'{"choices": []}', 0.0)
    assert LlmRephraser(url, model="m").rephrase(ORIGINAL, "zh") is None
    behaviour["answer"] = answer(ORIGINAL, delay=1.0)
    assert LlmRephraser(url, model="m", timeout=0.2).rephrase(ORIGINAL, "zh") is None
    assert (
        LlmRephraser("http://127.0.0.1:9/none", model="m", timeout=0.2).rephrase(ORIGINAL, "zh")
        is None
    )


def test_numbers_and_the_default_is_off() -> None:
    assert numbers("¥2,000.00 于 2026年12月11日") == ["200000", "2026", "12", "11"]
    assert keeps_facts("Call 400-161-9995.", "Please call 400-161-9995.", "en")
    assert not keeps_facts("Call 400-161-9995.", "Please call 400-161-9996.", "en")
    assert from_settings(None, None, "m") is None


def test_the_engine_takes_a_faithful_rephrasing_and_never_a_threat(
    server: Any, sqlite_assistant_book: Any, understander: Any, tmp_path: Any
) -> None:
    from tests.integration.assistant.conftest import AFTERNOON, fresh_forbear

    from forbear.assistant.engine import Assistant, Incoming

    url, seen, behaviour = server
    p = sqlite_assistant_book.book.people[71]
    with fresh_forbear(sqlite_assistant_book, tmp_path) as forbear:
        engine = Assistant(forbear, understander, llm=LlmRephraser(url, model="tiny"))

        def say(text: str, minutes: int) -> tuple[str, ...]:
            return engine.handle(
                Incoming(
                    channel="portal",
                    text=text,
                    received_at=AFTERNOON + timedelta(minutes=minutes),
                    borrower_id=p.borrower_id,
                )
            ).replies

        behaviour["answer"] = answer(
            "您好！我是您的智能客服，很高兴为您服务，请问今天需要什么帮助？"
        )
        assert say("你好", 1) == ("您好！我是您的智能客服，很高兴为您服务，请问今天需要什么帮助？",)
        behaviour["answer"] = answer("您好，再不还钱我们就去你家找你。")
        threat = say("你好", 2)
        assert threat and "去你家" not in threat[0] and threat[0].startswith("您好，我是智能客服")
        assert len(seen) == 2


def test_a_rephrasing_that_demands_payment_is_refused_in_quiet_hours_only(
    server: Any, sqlite_assistant_book: Any, understander: Any, tmp_path: Any
) -> None:
    from datetime import UTC, datetime

    from tests.integration.assistant.conftest import AFTERNOON, fresh_forbear

    from forbear.assistant.engine import Assistant, Incoming

    url, _, behaviour = server
    p = sqlite_assistant_book.book.people[72]
    night = datetime(2026, 11, 26, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai
    behaviour["answer"] = answer("您好，请尽快还款，有什么可以帮您？")
    with fresh_forbear(sqlite_assistant_book, tmp_path) as forbear:
        engine = Assistant(forbear, understander, llm=LlmRephraser(url, model="tiny"))

        def say(at: datetime) -> str:
            out = engine.handle(
                Incoming(channel="portal", text="你好", received_at=at, borrower_id=p.borrower_id)
            )
            return out.replies[0]

        assert say(AFTERNOON) == "您好，请尽快还款，有什么可以帮您？"  # a day-time reply may
        assert say(night).startswith("您好，我是智能客服")  # CN.ASSISTANT.QUIET_DEMAND


def test_build_loads_the_model_and_the_adapter_only_when_configured(
    sqlite_assistant_book: Any, tmp_path: Any
) -> None:
    from types import SimpleNamespace

    from pydantic import SecretStr
    from tests.integration.assistant.conftest import fresh_forbear

    from forbear.assistant.engine import build

    with fresh_forbear(sqlite_assistant_book, tmp_path) as forbear:
        plain = build(forbear)
        assert plain.llm is None and plain.understander is not None
        settings = forbear.settings.model_copy(
            update={"llm_url": "http://127.0.0.1:9/v1/chat/completions", "llm_key": SecretStr("k")}
        )
        with_llm = build(SimpleNamespace(settings=settings))
        assert isinstance(with_llm.llm, LlmRephraser) and with_llm.llm.model == settings.llm_model
