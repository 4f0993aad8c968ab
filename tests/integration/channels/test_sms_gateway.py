"""The SMS gateway adapter against the provider stand-in on loopback: accepted once per
message id, every answer of the Aliyun-shaped API mapped to the protocol's outcome, a
hanging gateway answered as transient within the adapter's timeout, and no failure that
names the number, the text or a parameter."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from forbear.channels.base import OutgoingMessage, PermanentFailure, TransientFailure
from forbear.channels.sms import SmsGatewayAdapter
from forbear.domain.errors import ConfigurationError
from forbear.sim.provider import DEFAULT_KEY_ID, Faults, accepted_keys
from integration.channels.standins import SMS_SECRET, StandInFactory, clean_of

NUMBER = "+86 139-1234-5678"


def message(message_id: str = "msg-0001", to: str = NUMBER, **extra: object) -> OutgoingMessage:
    fields: dict[str, object] = {
        "channel": "sms",
        "to": to,
        "body": "【某某金融】王小明您好，您的账单已逾期3天，应还金额1234.56元。",
        "template": "sms_reminder_early",
        "params": {"name": "王小明", "amount": "1234.56"},
    }
    fields.update(extra)
    return OutgoingMessage(message_id=message_id, **fields)  # type: ignore[arg-type]


def adapter(url: str, *, secret: str = SMS_SECRET, **options: object) -> SmsGatewayAdapter:
    base: dict[str, object] = {
        "kind": "sms_http",
        "endpoint": url + "/",
        "access_key_id": DEFAULT_KEY_ID,
        "sign_name": "某某金融",
        "templates": {"sms_reminder_early": "SMS_276400001"},
        "timeout": 2,
    }
    base.update(options)
    return SmsGatewayAdapter.from_options(
        "aliyun-sms", base, data_dir=Path("/nonexistent"), secrets={"aliyun-sms": secret}
    )


def test_a_message_is_accepted_once_per_message_id(standin: StandInFactory, tmp_path: Path) -> None:
    server = standin()
    sms = adapter(server.url)
    first = sms.send(message())
    again = sms.send(message())
    other = sms.send(message("msg-0002"))
    sms.close()
    assert first.provider == "aliyun-sms" and first.provider_ref
    assert again.provider_ref == first.provider_ref  # the provider knew the key
    assert other.provider_ref != first.provider_ref
    assert accepted_keys(tmp_path / "accept.log") == ["msg-0001", "msg-0002"]
    stats = server.stats()
    assert stats["accepted"] == 2 and stats["duplicates"] == 1
    assert "conflicts" not in stats


def test_an_answer_lost_after_acceptance_is_retried_under_the_same_key(
    standin: StandInFactory, tmp_path: Path
) -> None:
    lossy = standin(faults=Faults(lost_ack=1.0, hang_seconds=30))
    sms = adapter(lossy.url, timeout=0.5)
    with pytest.raises(TransientFailure) as lost:
        sms.send(message())
    sms.close()
    assert lost.value.code == "timeout"
    lossy.stop()
    # The provider took it; a stand-in restarted on the same log still knows the key.
    healthy = standin()
    sms = adapter(healthy.url)
    accepted = sms.send(message())
    sms.close()
    assert accepted.provider_ref
    assert accepted_keys(tmp_path / "accept.log") == ["msg-0001"]
    assert healthy.stats()["duplicates"] == 1


def test_throttling_is_transient_with_the_providers_retry_after(standin: StandInFactory) -> None:
    server = standin(faults=Faults(throttle=1.0, throttle_retry_after=7))
    sms = adapter(server.url)
    with pytest.raises(TransientFailure) as throttled:
        sms.send(message())
    sms.close()
    assert throttled.value.code == "isv.BUSINESS_LIMIT_CONTROL"
    assert throttled.value.retry_after == 7
    clean_of(throttled.value, message())


def test_past_the_providers_rate_the_send_is_throttled(standin: StandInFactory) -> None:
    server = standin(rate=1.0)
    sms = adapter(server.url)
    sms.send(message("msg-a"))
    with pytest.raises(TransientFailure) as throttled:
        sms.send(message("msg-b"))
    sms.close()
    assert throttled.value.code == "Throttling.User"
    assert throttled.value.retry_after == 1


def test_without_retry_after_the_configured_default_is_used(standin: StandInFactory) -> None:
    # isv.DAY_LIMIT_CONTROL-like throttling without a header: the option's default.
    server = standin(rate=1.0)
    sms = adapter(server.url, throttle_retry_after=90)
    sms.send(message("msg-a"))
    with pytest.raises(TransientFailure) as throttled:
        sms.send(message("msg-b"))
    sms.close()
    assert throttled.value.retry_after == 1  # the header wins over the default
    assert sms._throttle_retry_after == 90


def test_an_invalid_number_is_permanent_and_marks_the_address(standin: StandInFactory) -> None:
    server = standin(faults=Faults(invalid=1.0))
    sms = adapter(server.url)
    with pytest.raises(PermanentFailure) as refused:
        sms.send(message())
    sms.close()
    assert refused.value.address_invalid
    assert refused.value.code == "isv.MOBILE_NUMBER_ILLEGAL"
    assert server.stats().get("accepted") is None
    clean_of(refused.value, message())


def test_a_number_that_is_no_number_never_reaches_the_gateway(standin: StandInFactory) -> None:
    server = standin()
    sms = adapter(server.url)
    bad = message(to="call me maybe")
    with pytest.raises(PermanentFailure) as refused:
        sms.send(bad)
    sms.close()
    assert refused.value.address_invalid and refused.value.code == "number_malformed"
    assert server.stats().get("requests") is None
    clean_of(refused.value, bad)


def test_a_refused_template_is_permanent_but_the_number_stays_valid(
    standin: StandInFactory,
) -> None:
    server = standin(templates=frozenset({"SMS_OTHER"}))
    sms = adapter(server.url)
    with pytest.raises(PermanentFailure) as refused:
        sms.send(message())
    sms.close()
    assert not refused.value.address_invalid
    assert refused.value.code == "isv.SMS_TEMPLATE_ILLEGAL"
    clean_of(refused.value, message())


def test_an_unmapped_template_is_permanent_unless_a_text_template_is_configured(
    standin: StandInFactory, tmp_path: Path
) -> None:
    server = standin()
    sms = adapter(server.url)
    free = message(template="agent_free_text", params={})
    with pytest.raises(PermanentFailure) as unmapped:
        sms.send(free)
    assert unmapped.value.code == "template_unmapped" and not unmapped.value.address_invalid
    sms.close()
    sms = adapter(server.url, text_template="SMS_276400009")
    assert sms.request_params(free)["TemplateParam"] == (
        '{"content": "【某某金融】王小明您好，您的账单已逾期3天，应还金额1234.56元。"}'
    )
    assert sms.send(free).provider_ref
    sms.close()
    assert accepted_keys(tmp_path / "accept.log") == ["msg-0001"]


def test_the_request_carries_template_parameters_signature_name_and_out_id(
    standin: StandInFactory,
) -> None:
    sms = adapter("http://127.0.0.1:9")
    params = sms.request_params(message())
    sms.close()
    assert params["PhoneNumbers"] == "13912345678"
    assert params["SignName"] == "某某金融"
    assert params["TemplateCode"] == "SMS_276400001"
    assert params["TemplateParam"] == '{"amount": "1234.56", "name": "王小明"}'
    assert params["OutId"] == "msg-0001"
    assert params["Action"] == "SendSms" and params["Version"] == "2017-05-25"


def test_a_server_error_is_transient(standin: StandInFactory) -> None:
    server = standin(faults=Faults(server_error=1.0))
    sms = adapter(server.url)
    with pytest.raises(TransientFailure) as failed:
        sms.send(message())
    sms.close()
    assert failed.value.code == "isp.SYSTEM_ERROR"
    clean_of(failed.value, message())


def test_a_wrong_secret_is_transient_and_nothing_is_accepted(standin: StandInFactory) -> None:
    server = standin()
    sms = adapter(server.url, secret="not-the-secret")
    with pytest.raises(TransientFailure) as refused:
        sms.send(message())
    sms.close()
    assert refused.value.code == "SignatureDoesNotMatch"
    assert server.stats()["bad_signature"] == 1 and server.stats().get("accepted") is None


def test_a_hanging_gateway_is_transient_within_the_adapter_timeout(
    standin: StandInFactory,
) -> None:
    server = standin(faults=Faults(hang=1.0, hang_seconds=60))
    sms = adapter(server.url, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(TransientFailure) as hung:
        sms.send(message())
    waited = time.monotonic() - started
    sms.close()
    assert hung.value.code == "timeout"
    assert waited < 60  # answered by our timeout, not by the provider giving up
    assert server.stats().get("accepted") is None
    clean_of(hung.value, message())


def test_an_unreachable_gateway_is_transient() -> None:
    sms = adapter("http://127.0.0.1:9")  # the discard port: nothing listens
    with pytest.raises(TransientFailure) as unreachable:
        sms.send(message())
    sms.close()
    assert unreachable.value.code == "connection"
    clean_of(unreachable.value, message())


@pytest.mark.parametrize(
    ("options", "secrets", "wanted"),
    [
        ({"endpoint": "http://sms.example.com/"}, {"aliyun-sms": "s"}, "must use https"),
        ({"endpoint": "ftp://x/"}, {"aliyun-sms": "s"}, "http(s) URL"),
        ({"sign_name": ""}, {"aliyun-sms": "s"}, "'sign_name'"),
        ({"templates": {}}, {"aliyun-sms": "s"}, "'templates'"),
        ({"templates": {"a": 1}}, {"aliyun-sms": "s"}, "'templates'"),
        ({"timeout": "soon"}, {"aliyun-sms": "s"}, "'timeout'"),
        ({"rate_per_second": 0}, {"aliyun-sms": "s"}, "'rate_per_second'"),
        ({"sender": "x"}, {"aliyun-sms": "s"}, "unknown option(s) sender"),
        ({}, {}, "no secret in channel_secrets"),
    ],
)
def test_bad_options_are_refused_by_name(
    options: dict[str, object], secrets: dict[str, str], wanted: str
) -> None:
    base: dict[str, object] = {
        "endpoint": "https://dysms.aliyuncs.com/",
        "access_key_id": "LTAI-test",
        "sign_name": "某某金融",
        "templates": {"t": "SMS_1"},
    }
    base.update(options)
    with pytest.raises(ConfigurationError) as refused:
        SmsGatewayAdapter.from_options(
            "aliyun-sms", base, data_dir=Path("/nonexistent"), secrets=secrets
        )
    assert wanted in str(refused.value)
    assert "'s'" not in str(refused.value)
