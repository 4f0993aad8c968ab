"""The channels file (forbear.channels.config), the adapter registry, the token bucket and
the sandbox adapter: pure or file-only, no database."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from forbear.channels.base import ChannelAdapter, OutgoingMessage
from forbear.channels.config import load, parse, sandbox_only
from forbear.channels.dispatcher import TokenBucket
from forbear.channels.registry import adapter_class, build
from forbear.channels.sandbox import SandboxAdapter
from forbear.clock import fixed_clock
from forbear.domain.errors import ConfigurationError

GOOD = """
providers:
  box:
    kind: sandbox
    channels: [sms, email]
    rate_per_second: 20
    threads: 2
  push:
    kind: sandbox
    channels: app_push
retry:
  max_tries: 3
  base_delay_seconds: 5
dispatch:
  batch: 200
  lease_seconds: 60
"""


def test_a_channels_file_is_read_with_its_limits_and_policy() -> None:
    config = parse(GOOD, source="channels.yaml")
    assert [p.name for p in config.providers] == ["box", "push"]
    box = config.provider_for("sms")
    assert box is not None and box.rate_per_second == 20 and box.threads == 2
    assert "threads" not in box.options and box.options["kind"] == "sandbox"
    assert config.provider_for("letter") is None  # not configured: not dispatched
    assert config.channels == {"sms", "email", "app_push"}
    assert config.retry.max_tries == 3 and config.retry.base_delay == timedelta(seconds=5)
    assert config.batch == 200 and config.lease == timedelta(seconds=60)
    assert config.backlog_batch == 2000  # the default


def test_the_batch_while_a_backlog_drains_is_read_and_bounded() -> None:
    text = "providers: {}\ndispatch: {batch: 100, backlog_batch: 800}\n"
    assert parse(text).backlog_batch == 800
    with pytest.raises(ConfigurationError, match=r"dispatch\.backlog_batch"):
        parse("providers: {}\ndispatch: {backlog_batch: 20000}\n")
    with pytest.raises(ConfigurationError, match=r"dispatch\.backlog_batch"):
        parse("providers: {}\ndispatch: {backlog_batch: 1.5}\n")


def test_a_providers_batch_size_is_read_for_a_kind_with_a_batch_action() -> None:
    text = "providers: {gw: {kind: sms_http, channels: [sms], batch_size: 100, threads: 4}}"
    gateway = parse(text).provider_for("sms")
    assert gateway is not None and gateway.batch_size == 100
    assert "batch_size" not in gateway.options
    plain = parse("providers: {box: {kind: sandbox, channels: [sms]}}").provider_for("sms")
    assert plain is not None and plain.batch_size == 1  # one send a message by default


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (
            "providers: {x: {kind: sms_http, channels: [sms], batch_size: 101}}",
            "providers.x.batch_size",
        ),
        (
            "providers: {x: {kind: webhook, channels: [im], batch_size: 10}}",
            "providers.x.batch_size",
        ),
        ("providers: {x: {kind: sms_http, channels: [sms], batch_size: 0}}", "batch_size"),
        ("providers: {x: {kind: carrier_pigeon, channels: [sms]}}", "providers.x.kind"),
        ("providers: {x: {kind: sandbox, channels: [fax]}}", "providers.x.channels"),
        ("providers: {x: {kind: sandbox, channels: [sms], threads: 0}}", "providers.x.threads"),
        (
            "providers: {a: {kind: sandbox, channels: [sms]}, b: {kind: sandbox, channels: [sms]}}",
            "providers.b.channels",
        ),
        ("retry: {max_tries: zero}", "retry.max_tries"),
        ("retry: {base_delay_seconds: 10, max_delay_seconds: 1}", "retry.max_delay_seconds"),
        ("retry: {tries: 3}", "retry.tries"),
        ("dispatch: {batch: 0}", "dispatch.batch"),
        ("senders: {}", "senders"),
        ("providers: [1, 2]", "providers"),
        ("providers: {x: {kind: sandbox, channels: [sms]}", "not valid YAML"),
    ],
)
def test_a_mistake_names_the_field(text: str, field: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse(text, source="channels.yaml")
    assert field in str(caught.value)
    assert "channels.yaml" in str(caught.value)


def test_without_a_file_every_channel_goes_to_the_sandbox(tmp_path: Path) -> None:
    config = load(None, tmp_path)
    assert config == sandbox_only()
    assert {"sms", "email", "app_push", "ai_call", "letter"} <= config.channels
    (tmp_path / "channels.yaml").write_text(GOOD, encoding="utf-8")
    assert load(None, tmp_path).batch == 200  # <data_dir>/channels.yaml when present
    with pytest.raises(ConfigurationError, match="does not exist"):
        load(tmp_path / "missing.yaml", tmp_path)


def test_the_registry_imports_a_kind_only_when_it_is_used(tmp_path: Path) -> None:
    assert adapter_class("sandbox") is SandboxAdapter
    with pytest.raises(ConfigurationError, match="unknown kind"):
        adapter_class("telegraph", "p")
    (provider,) = sandbox_only().providers
    adapter = build(provider, data_dir=tmp_path, secrets={})
    assert isinstance(adapter, ChannelAdapter)


def message(key: str = "k1") -> OutgoingMessage:
    return OutgoingMessage(
        message_id=key, channel="sms", to="13800000000", body="您好", params={"a": "1"}
    )


def test_the_sandbox_writes_each_message_once_and_privately(tmp_path: Path) -> None:
    at = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
    box = SandboxAdapter("sandbox", tmp_path / "sandbox", clock=fixed_clock(at))
    first = box.send(message())
    again = box.send(message())
    assert first == again  # idempotent by message id
    files = list((tmp_path / "sandbox" / "2026-12-07").glob("*.json"))
    assert [f.name for f in files] == ["k1.json"]
    record = json.loads(files[0].read_text(encoding="utf-8"))
    assert record["to"] == "13800000000" and record["body"] == "您好"
    assert files[0].stat().st_mode & 0o077 == 0
    # another adapter over the same folder (a restarted worker) does not write it twice
    later = SandboxAdapter(
        "sandbox", tmp_path / "sandbox", clock=fixed_clock(at + timedelta(days=1))
    )
    assert later.send(message()) == first
    assert not (tmp_path / "sandbox" / "2026-12-08").exists()
    with pytest.raises(ValueError):
        box.send(message("../escape"))


def test_the_sandbox_refuses_a_folder_outside_the_data_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="folder"):
        SandboxAdapter.from_options("s", {"folder": "../x"}, data_dir=tmp_path, secrets={})


class SteppedClock:
    """A monotonic clock that moves only when told (and a little each time it is read,
    so a waiting bucket eventually gets its token without real sleeping mattering)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 0.05
        return self.now


def test_the_token_bucket_keeps_to_its_rate() -> None:
    clock = SteppedClock()
    bucket = TokenBucket(10.0, burst=3, monotonic=clock)
    start = clock.now
    for _ in range(13):
        assert bucket.take()
    # 3 from the burst, 10 more at 10 per second: at least a second of its clock passed
    assert clock.now - start >= 1.0
    assert TokenBucket(None).take()  # no limit


def test_a_request_of_many_messages_takes_as_many_tokens() -> None:
    clock = SteppedClock()

    def sleep(seconds: float) -> None:  # the bucket's wait passes on its clock alone
        clock.now += seconds

    bucket = TokenBucket(10.0, burst=10, monotonic=clock, sleep=sleep)
    start = clock.now
    for _ in range(3):
        assert bucket.take(n=10)  # three requests of ten messages
    # 10 from the burst, 20 more at 10 per second: two seconds of its clock at least
    assert clock.now - start >= 2.0
    # a request larger than the bucket is taken once it is full, and the debt is waited off
    big = TokenBucket(10.0, burst=10, monotonic=clock, sleep=sleep)
    assert big.take(n=25)
    before = clock.now
    assert big.take(n=1)
    assert clock.now - before >= 1.5  # 15 tokens in debt, then one more
