"""The signed JSON webhook adapters (generic, app push, AI voice) against the provider
stand-in, which checks their signatures and deduplicates by idempotency key, and against
a server giving fixed answers: every answer mapped, a hanging endpoint answered as
transient within the timeout, no failure naming the address or the text."""

from __future__ import annotations

import json
import socket
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from forbear.channels.base import OutgoingMessage, PermanentFailure, TransientFailure
from forbear.channels.webhook import JsonWebhookAdapter, PushAdapter, VoiceAdapter
from forbear.domain.errors import ConfigurationError
from forbear.domain.signatures import verify
from forbear.sim.provider import Faults, accepted_keys
from integration.channels.standins import HOOK_SECRET, StandInFactory, answering, clean_of

BODY = "王小明您好，您的账单已逾期3天，请尽快还款。"


def message(
    message_id: str = "msg-0001", to: str = "13912345678", **extra: object
) -> OutgoingMessage:
    fields: dict[str, object] = {
        "channel": "sms",
        "to": to,
        "body": BODY,
        "subject": "逾期提醒",
        "template": "reminder",
        "params": {"name": "王小明"},
        "borrower_ref": "B-77",
        "loan_ref": "L-77",
    }
    fields.update(extra)
    return OutgoingMessage(message_id=message_id, **fields)  # type: ignore[arg-type]


def hook(
    cls: type[JsonWebhookAdapter], url: str, *, secret: str = HOOK_SECRET, **options: object
) -> JsonWebhookAdapter:
    base: dict[str, object] = {"url": url, "timeout": 2}
    base.update(options)
    return cls.from_options(
        "lender-hook", base, data_dir=Path("/nonexistent"), secrets={"lender-hook": secret}
    )


@pytest.mark.parametrize("cls", [JsonWebhookAdapter, PushAdapter, VoiceAdapter])
def test_a_signed_message_is_accepted_once_per_key(
    cls: type[JsonWebhookAdapter], standin: StandInFactory, tmp_path: Path
) -> None:
    server = standin()
    adapter = hook(cls, f"{server.url}/hooks/lender-hook")
    first = adapter.send(message())
    again = adapter.send(message())
    adapter.close()
    assert first.provider_ref and again.provider_ref == first.provider_ref
    assert accepted_keys(tmp_path / "accept.log") == ["msg-0001"]
    assert server.stats()["duplicates"] == 1 and "conflicts" not in server.stats()


def test_the_request_is_signed_over_timestamp_and_body_with_the_idempotency_key() -> None:
    with answering(200, {"id": "p-1"}) as server:
        adapter = hook(JsonWebhookAdapter, f"http://127.0.0.1:{server.server_port}/")
        accepted = adapter.send(message())
        adapter.close()
    assert accepted.provider_ref == "p-1"
    headers, body = server.seen[0]
    assert headers["X-Idempotency-Key"] == "msg-0001"
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    verify(
        HOOK_SECRET.encode(),
        timestamp=headers["X-Forbear-Timestamp"],
        signature=headers["X-Forbear-Signature"],
        body=body,
        now=datetime.now(UTC),
    )
    sent = json.loads(body)
    assert sent == {
        "message_id": "msg-0001",
        "channel": "sms",
        "to": "13912345678",
        "lang": "zh",
        "subject": "逾期提醒",
        "body": BODY,
        "template": "reminder",
        "params": {"name": "王小明"},
        "borrower_ref": "B-77",
        "loan_ref": "L-77",
    }


def test_push_carries_the_app_user_and_a_title_in_the_borrowers_language() -> None:
    adapter = hook(PushAdapter, "https://push.example.com/")
    zh = adapter.payload(message(to="app-user-9", subject=None))
    en = adapter.payload(message(to="app-user-9", subject=None, lang="en", body="Please pay."))
    adapter.close()
    assert zh["user_id"] == "app-user-9" and zh["title"] == "还款提醒" and zh["body"] == BODY
    assert en["title"] == "Repayment notice" and en["lang"] == "en"
    assert "to" not in zh


def test_voice_task_carries_the_script_and_the_callback_reference() -> None:
    callback = "https://forbear.example.com/api/v1/channels/lender-hook/receipts"
    adapter = hook(
        VoiceAdapter, "https://voice.example.com/tasks", callback_url=callback, voice="xiaoyun"
    )
    task = adapter.payload(message())
    adapter.close()
    assert task["task_id"] == "msg-0001" and task["phone"] == "13912345678"
    assert task["script"] == BODY and task["voice"] == "xiaoyun"
    assert task["callback"] == {"url": callback, "reference": "msg-0001", "provider": "lender-hook"}


def test_a_wrong_secret_is_transient_and_nothing_is_accepted(standin: StandInFactory) -> None:
    server = standin()
    adapter = hook(JsonWebhookAdapter, f"{server.url}/hooks/lender-hook", secret="wrong")
    with pytest.raises(TransientFailure) as refused:
        adapter.send(message())
    adapter.close()
    assert refused.value.code == "signature_mismatch"
    assert server.stats().get("accepted") is None
    clean_of(refused.value, message())


@pytest.mark.parametrize(
    ("faults", "code", "retry_after"),
    [
        (Faults(throttle=1.0, throttle_retry_after=5), "throttled", 5.0),
        (Faults(server_error=1.0), "server_error", None),
    ],
)
def test_throttling_and_server_errors_are_transient(
    standin: StandInFactory, faults: Faults, code: str, retry_after: float | None
) -> None:
    server = standin(faults=faults)
    adapter = hook(VoiceAdapter, f"{server.url}/hooks/lender-hook")
    with pytest.raises(TransientFailure) as failed:
        adapter.send(message())
    adapter.close()
    assert failed.value.code == code and failed.value.retry_after == retry_after
    clean_of(failed.value, message())


def test_an_invalid_number_is_permanent_and_marks_the_address(standin: StandInFactory) -> None:
    server = standin(faults=Faults(invalid=1.0))
    adapter = hook(VoiceAdapter, f"{server.url}/hooks/lender-hook")
    with pytest.raises(PermanentFailure) as refused:
        adapter.send(message())
    adapter.close()
    assert refused.value.address_invalid and refused.value.code == "invalid_address"
    clean_of(refused.value, message())


def test_a_hanging_endpoint_is_transient_within_the_timeout(standin: StandInFactory) -> None:
    server = standin(faults=Faults(hang=1.0, hang_seconds=60))
    adapter = hook(PushAdapter, f"{server.url}/hooks/lender-hook", timeout=0.5)
    with pytest.raises(TransientFailure) as hung:
        adapter.send(message())
    adapter.close()
    assert hung.value.code == "timeout"
    clean_of(hung.value, message())


@pytest.mark.parametrize(
    ("status", "body", "outcome", "code"),
    [
        (202, {"provider_ref": "r-9"}, "accepted", "r-9"),
        (409, {}, "accepted", None),
        (400, {"error": "bad_template"}, "permanent", "bad_template"),
        (422, {"error": "invalid_address"}, "invalid", "invalid_address"),
        (404, {"detail": "no such user 13912345678"}, "permanent", "http_404"),
        (400, {"error": "13912345678"}, "permanent", "http_400"),
        (400, {"error": "bad number 13912345678"}, "permanent", "http_400"),
        (403, {}, "transient", "http_403"),
        (408, {}, "transient", "http_408"),
        (503, {"error": "maintenance"}, "transient", "maintenance"),
        (302, {}, "transient", "http_302"),
    ],
)
def test_every_answer_is_mapped(
    status: int, body: dict[str, object], outcome: str, code: str | None
) -> None:
    with answering(status, body) as server:
        adapter = hook(JsonWebhookAdapter, f"http://127.0.0.1:{server.server_port}/")
        try:
            accepted = adapter.send(message())
        except PermanentFailure as exc:
            assert outcome in ("permanent", "invalid")
            assert exc.address_invalid == (outcome == "invalid") and exc.code == code
            clean_of(exc, message())
        except TransientFailure as exc:
            assert outcome == "transient" and exc.code == code
            clean_of(exc, message())
        else:
            assert outcome == "accepted" and accepted.provider_ref == code
        finally:
            adapter.close()


@pytest.mark.parametrize(
    ("cls", "options", "secrets", "wanted"),
    [
        (JsonWebhookAdapter, {}, {"lender-hook": "s"}, "'url' is required"),
        (JsonWebhookAdapter, {"url": "http://hooks.example.com/"}, {"lender-hook": "s"}, "https"),
        (JsonWebhookAdapter, {"url": "https://h.example.com/"}, {}, "no secret"),
        (
            JsonWebhookAdapter,
            {"url": "https://h.example.com/", "voice": "x"},
            {"lender-hook": "s"},
            "unknown option",
        ),
        (
            VoiceAdapter,
            {"url": "https://h.example.com/", "callback_url": "ftp://x"},
            {"lender-hook": "s"},
            "'callback_url'",
        ),
    ],
)
def test_bad_options_are_refused_by_name(
    cls: type[JsonWebhookAdapter], options: dict[str, object], secrets: dict[str, str], wanted: str
) -> None:
    with pytest.raises(ConfigurationError) as refused:
        cls.from_options("lender-hook", options, data_dir=Path("/nonexistent"), secrets=secrets)
    assert wanted in str(refused.value)


def test_an_endpoint_trickling_its_answer_is_transient_within_twice_the_timeout() -> None:
    # Headers at once, then one byte of the body every 0.2 s: each read is quick, the
    # answer never ends.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    stop = threading.Event()

    def trickle() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
            while not stop.wait(0.2):
                try:
                    conn.sendall(b" ")
                except OSError:
                    return

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    adapter = hook(
        JsonWebhookAdapter, f"http://127.0.0.1:{listener.getsockname()[1]}/", timeout=0.5
    )
    started = time.monotonic()
    with pytest.raises(TransientFailure) as slow:
        adapter.send(message())
    waited = time.monotonic() - started
    adapter.close()
    stop.set()
    thread.join()
    listener.close()
    assert slow.value.code == "timeout"
    assert waited < 30  # the answer would have taken 200 s
    clean_of(slow.value, message())


def test_a_gzipped_answer_is_read() -> None:
    import gzip

    class Gzipped(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return None

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            body = gzip.compress(b'{"provider_ref": "gz-1"}')
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Gzipped)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        adapter = hook(JsonWebhookAdapter, f"http://127.0.0.1:{server.server_port}/")
        assert adapter.send(message()).provider_ref == "gz-1"
        adapter.close()
    finally:
        server.shutdown()
        server.server_close()
