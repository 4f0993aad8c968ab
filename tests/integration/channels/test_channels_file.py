"""A channels file naming every provider kind of this package builds, through the
registry, the adapter of each with its options; a mistake in an adapter's own options is
refused by name when the file is loaded into adapters, naming no secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from forbear.channels.base import ChannelAdapter
from forbear.channels.config import parse
from forbear.channels.letters import LetterBatchAdapter
from forbear.channels.registry import build
from forbear.channels.sms import SmsGatewayAdapter
from forbear.channels.smtp import SmtpAdapter
from forbear.channels.webhook import JsonWebhookAdapter, PushAdapter, VoiceAdapter
from forbear.domain.errors import ConfigurationError

FILE = """
providers:
  aliyun-sms:
    kind: sms_http
    channels: [sms]
    rate_per_second: 100
    threads: 8
    endpoint: https://dysms.aliyuncs.com/
    access_key_id: LTAI-test
    sign_name: 某某消费金融
    templates: {CN.M1.REMIND.SMS: SMS_276400001}
  mail:
    kind: smtp
    channels: [email]
    host: smtp.lender.example
    username: collections@lender.example
    from_address: collections@lender.example
    from_name: 某某消费金融
  push:
    kind: push
    channels: [app_push]
    url: https://push.lender.example/forbear
  voice:
    kind: voice
    channels: [ai_call]
    url: https://voice.lender.example/tasks
    callback_url: https://forbear.lender.example/api/v1/channels/voice/receipts
  im:
    kind: webhook
    channels: [im]
    url: https://im.lender.example/hooks
  print-house:
    kind: letters
    channels: [letter]
    sender: [某某消费金融有限公司]
"""
SECRETS = {"aliyun-sms": "a", "mail": "b", "push": "c", "voice": "d", "im": "e"}
KINDS = {
    "aliyun-sms": SmsGatewayAdapter,
    "mail": SmtpAdapter,
    "push": PushAdapter,
    "voice": VoiceAdapter,
    "im": JsonWebhookAdapter,
    "print-house": LetterBatchAdapter,
}


def test_every_kind_builds_from_a_channels_file(tmp_path: Path) -> None:
    config = parse(FILE, source="channels.yaml")
    built = {p.name: build(p, data_dir=tmp_path, secrets=SECRETS) for p in config.providers}
    for name, adapter in built.items():
        assert type(adapter) is KINDS[name]
        assert isinstance(adapter, ChannelAdapter)
        assert adapter.name == name
        adapter.close()
    assert built["aliyun-sms"].rate_per_second == 100
    assert isinstance(built["print-house"], LetterBatchAdapter)
    assert built["print-house"].directory == tmp_path / "letters"


def test_an_adapter_option_mistake_is_refused_by_provider_and_option(tmp_path: Path) -> None:
    config = parse(FILE.replace("sign_name: 某某消费金融", "signature: 某某消费金融"))
    sms = next(p for p in config.providers if p.name == "aliyun-sms")
    with pytest.raises(ConfigurationError) as refused:
        build(sms, data_dir=tmp_path, secrets=SECRETS)
    assert "'aliyun-sms'" in str(refused.value) and "signature" in str(refused.value)


def test_a_missing_secret_is_refused_naming_the_provider(tmp_path: Path) -> None:
    config = parse(FILE)
    push = next(p for p in config.providers if p.name == "push")
    with pytest.raises(ConfigurationError, match="'push': no secret"):
        build(push, data_dir=tmp_path, secrets={})
