"""The SMS gateway adapter's batches (``send_many``: ``SendBatchSms`` with a key per
number) against the provider stand-in on loopback: one outcome per message in order, each
key accepted once in the same accept log as single sends, per-number answers (an invalid
number, per-number throttling, the rate limit counting messages) beside accepted ones, and
request-wide failures (a 5xx, a timeout, a lost acknowledgement) answered for every
message of the request, which a retry then sends again under the same keys."""

from __future__ import annotations

import json
from pathlib import Path

from forbear.channels.base import (
    Accepted,
    BatchAdapter,
    ChannelFailure,
    OutgoingMessage,
    PermanentFailure,
    TransientFailure,
)
from forbear.channels.sms import MAX_BATCH, rpc_signature
from forbear.sim.provider import Faults, accepted_keys
from integration.channels.standins import SMS_SECRET, StandInFactory, clean_of
from integration.channels.test_sms_gateway import adapter, message


def numbered(n: int, *, start: int = 0, prefix: str = "b") -> list[OutgoingMessage]:
    return [
        message(
            f"{prefix}-{i:04d}",
            to=f"+86 139{i:08d}",
            params={"name": f"王{i}", "amount": "1234.56"},
        )
        for i in range(start, start + n)
    ]


def refs(outcomes: list[Accepted | ChannelFailure]) -> list[str | None]:
    return [o.provider_ref if isinstance(o, Accepted) else None for o in outcomes]


def test_a_batch_is_accepted_per_key_in_one_request_and_once_per_key(
    standin: StandInFactory, tmp_path: Path
) -> None:
    server = standin()
    sms = adapter(server.url)
    assert isinstance(sms, BatchAdapter)
    batch = numbered(5)
    first = sms.send_many(batch)
    again = sms.send_many(batch)  # a retry after a lost answer: the same keys
    sms.close()
    assert all(isinstance(o, Accepted) and o.provider == "aliyun-sms" for o in first)
    assert len(set(refs(first))) == 5 and None not in refs(first)
    assert refs(again) == refs(first)  # each key's first reference
    assert accepted_keys(tmp_path / "accept.log") == [m.message_id for m in batch]
    stats = server.stats()
    assert stats["requests"] == stats["batch_requests"] == 2
    assert stats["accepted"] == 5 and stats["duplicates"] == 5
    assert "conflicts" not in stats


def test_a_message_sent_alone_and_then_in_a_batch_is_one_acceptance_with_the_same_content(
    standin: StandInFactory, tmp_path: Path
) -> None:
    server = standin()
    sms = adapter(server.url)
    alone = sms.send(message("k-1"))
    (batched, other) = sms.send_many([message("k-1"), message("k-2", to="13900000002")])
    sms.close()
    assert isinstance(batched, Accepted) and batched.provider_ref == alone.provider_ref
    assert isinstance(other, Accepted)
    assert accepted_keys(tmp_path / "accept.log") == ["k-1", "k-2"]
    assert "conflicts" not in server.stats()  # the batch carried the same content


def test_each_number_gets_its_own_answer_beside_the_accepted_ones(
    standin: StandInFactory, tmp_path: Path
) -> None:
    server = standin(faults=Faults(invalid=0.5))
    sms = adapter(server.url)
    batch = numbered(40)
    malformed = message("b-bad", to="call me maybe")
    outcomes = sms.send_many([*batch[:20], malformed, *batch[20:]])
    sms.close()
    assert len(outcomes) == 41
    never = outcomes.pop(20)
    assert isinstance(never, PermanentFailure) and never.code == "number_malformed"
    invalid = [m for m, o in zip(batch, outcomes, strict=True) if isinstance(o, PermanentFailure)]
    accepted = [m for m, o in zip(batch, outcomes, strict=True) if isinstance(o, Accepted)]
    assert invalid and accepted and len(invalid) + len(accepted) == 40
    for m, o in zip(batch, outcomes, strict=True):
        if isinstance(o, PermanentFailure):
            assert o.address_invalid and o.code == "isv.MOBILE_NUMBER_ILLEGAL"
            clean_of(o, m)
    # a retry meets the same answer for the same number (the provider's verdict)
    sms = adapter(server.url)
    again = sms.send_many(batch)
    sms.close()
    assert [type(o) for o in again] == [type(o) for o in outcomes]
    assert accepted_keys(tmp_path / "accept.log") == [m.message_id for m in accepted]
    assert server.stats()["invalid"] == 2 * len(invalid)


def test_per_number_throttling_is_transient_with_the_retry_after(
    standin: StandInFactory,
) -> None:
    server = standin(faults=Faults(throttle=1.0, throttle_retry_after=7))
    sms = adapter(server.url)
    batch = numbered(3)
    outcomes = sms.send_many(batch)
    sms.close()
    for m, o in zip(batch, outcomes, strict=True):
        assert isinstance(o, TransientFailure)
        assert o.code == "isv.BUSINESS_LIMIT_CONTROL" and o.retry_after == 7
        clean_of(o, m)
    assert server.stats().get("accepted") is None


def test_the_providers_rate_counts_messages_not_requests(standin: StandInFactory) -> None:
    server = standin(rate=5.0)
    sms = adapter(server.url)
    outcomes = sms.send_many(numbered(20))
    sms.close()
    accepted = [o for o in outcomes if isinstance(o, Accepted)]
    throttled = [o for o in outcomes if isinstance(o, TransientFailure)]
    assert 5 <= len(accepted) <= 7  # a second's worth, whatever the requests
    assert len(accepted) + len(throttled) == 20
    assert all(o.code == "Throttling.User" and o.retry_after == 1 for o in throttled)


def test_a_server_error_or_a_hang_is_every_messages_transient_failure(
    standin: StandInFactory,
) -> None:
    batch = numbered(4)
    failing = standin(faults=Faults(server_error=1.0))
    sms = adapter(failing.url)
    outcomes = sms.send_many(batch)
    sms.close()
    assert all(isinstance(o, TransientFailure) and o.code == "isp.SYSTEM_ERROR" for o in outcomes)
    hanging = standin(faults=Faults(hang=1.0, hang_seconds=60))
    sms = adapter(hanging.url, timeout=0.5)
    outcomes = sms.send_many(batch)
    sms.close()
    assert all(isinstance(o, TransientFailure) and o.code == "timeout" for o in outcomes)
    for m, o in zip(batch, outcomes, strict=True):
        clean_of(o, m)  # type: ignore[arg-type]
    assert failing.stats().get("accepted") is None and hanging.stats().get("accepted") is None


def test_a_batch_whose_answer_was_lost_is_accepted_once_when_sent_again(
    standin: StandInFactory, tmp_path: Path
) -> None:
    batch = numbered(6)
    lossy = standin(faults=Faults(lost_ack=1.0, hang_seconds=30))
    sms = adapter(lossy.url, timeout=0.5)
    lost = sms.send_many(batch)
    sms.close()
    assert all(isinstance(o, TransientFailure) and o.code == "timeout" for o in lost)
    lossy.stop()
    logged = {
        line["key"]: line["ref"]
        for line in map(json.loads, (tmp_path / "accept.log").read_text().splitlines())
    }
    assert sorted(logged) == [m.message_id for m in batch]  # taken before the answer was lost
    healthy = standin()  # restarted on the same log: it still knows the keys
    sms = adapter(healthy.url)
    again = sms.send_many(batch)
    sms.close()
    assert refs(again) == [logged[m.message_id] for m in batch]
    assert accepted_keys(tmp_path / "accept.log") == [m.message_id for m in batch]
    assert healthy.stats()["duplicates"] == 6 and healthy.stats().get("accepted") is None


def test_a_batch_is_split_by_template_and_by_the_providers_limit(
    standin: StandInFactory, tmp_path: Path
) -> None:
    server = standin()
    sms = adapter(
        server.url, templates={"sms_reminder_early": "SMS_276400001", "other": "SMS_276400002"}
    )
    batch = [
        *numbered(MAX_BATCH + 1),
        message("o-1", to="13900000001", template="other"),
        message("o-2", to="13900000002", template="unmapped"),
    ]
    outcomes = sms.send_many(batch)
    sms.close()
    assert all(isinstance(o, Accepted) for o in outcomes[:-1])
    unmapped = outcomes[-1]
    assert isinstance(unmapped, PermanentFailure) and unmapped.code == "template_unmapped"
    assert server.stats()["batch_requests"] == 3  # 100 + 1 of one template, 1 of the other
    assert len(accepted_keys(tmp_path / "accept.log")) == MAX_BATCH + 2


def test_a_batch_request_carries_a_key_and_parameters_per_number_and_is_signed() -> None:
    sms = adapter("http://127.0.0.1:9")
    params = sms.batch_params(
        [message("k-1"), message("k-2", to="13900000002", params={"name": "李四", "amount": "2"})]
    )
    sms.close()
    assert params["Action"] == "SendBatchSms" and params["TemplateCode"] == "SMS_276400001"
    assert json.loads(params["PhoneNumberJson"]) == ["13912345678", "13900000002"]
    assert json.loads(params["SignNameJson"]) == ["某某金融", "某某金融"]
    assert json.loads(params["OutIdJson"]) == ["k-1", "k-2"]
    assert json.loads(params["TemplateParamJson"]) == [
        {"amount": "1234.56", "name": "王小明"},
        {"amount": "2", "name": "李四"},
    ]
    signature = params.pop("Signature")
    assert signature == rpc_signature(SMS_SECRET, "POST", params)
