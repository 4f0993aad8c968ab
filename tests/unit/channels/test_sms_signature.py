"""The SMS gateway's request signature is Aliyun's RPC signature 1.0: the example of
Aliyun's SendSms documentation signs to the published value."""

from __future__ import annotations

from forbear.channels.sms import normalise_number, percent_encode, rpc_signature


def test_aliyun_documentation_example_signs_to_the_published_signature() -> None:
    params = {
        "AccessKeyId": "testId",
        "Action": "SendSms",
        "Format": "XML",
        "OutId": "123",
        "PhoneNumbers": "15300000001",
        "RegionId": "cn-hangzhou",
        "SignName": "阿里云短信测试专用",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
        "SignatureVersion": "1.0",
        "TemplateCode": "SMS_71390007",
        "TemplateParam": '{"customer":"test"}',
        "Timestamp": "2017-07-12T02:42:19Z",
        "Version": "2017-05-25",
    }
    assert rpc_signature("testSecret", "GET", params) == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def test_percent_encoding_is_rfc3986() -> None:
    assert percent_encode("a b*c~d/e") == "a%20b%2Ac~d%2Fe"


def test_numbers_are_normalised_for_the_gateway() -> None:
    assert normalise_number("+86 139-1234-5678") == "13912345678"
    assert normalise_number("8613912345678") == "13912345678"
    assert normalise_number("13912345678") == "13912345678"
    assert normalise_number("+852 9123 4567") == "0085291234567"
    assert normalise_number("call me") is None
    assert normalise_number("") is None
