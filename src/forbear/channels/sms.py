"""SMS through an HTTP gateway in the shape of the large Chinese SMS APIs: Aliyun Dysms's
``SendSms`` (RPC style, API version 2017-05-25), which Tencent Cloud SMS and most
domestic gateways mirror: an approved **template id** with its **parameters as JSON**, the
lender's registered **signature name** (签名), and an external serial number (``OutId``)
that carries the outbox message id as the idempotency key.

The request is signed the way Aliyun's RPC APIs sign (signature version 1.0): the
parameters sorted and percent-encoded (RFC 3986), ``POST&%2F&<encoded query>``, HMAC-SHA1
under ``<AccessKeySecret>&``, base64. The access key id sits in the channels file, its
secret in ``channel_secrets`` under the provider's name.

A channels file entry (``forbear.channels.config``)::

    providers:
      aliyun-sms:
        kind: sms_http
        channels: [sms]
        endpoint: https://dysms.aliyuncs.com/
        access_key_id: LTAI...
        sign_name: 某某消费金融
        templates:                   # Forbear template code -> the provider's template id
          sms_reminder_early: SMS_276400001
          sms_promise_due: SMS_276400002
        text_template: SMS_276400009 # optional: a template of one ${content} variable,
                                     # for agents' free texts (when the provider allows it)
        rate_per_second: 100
        timeout: 10

The provider renders the text from its own approved template and the parameters; the
Forbear template must be registered there with the same wording (the content filter ran on
the same text).

**Batches** (``send_many``, used by the dispatcher when the provider's ``batch_size`` in
the channels file is above 1): ``SendBatchSms`` with the arrays of Aliyun's batch action
(``PhoneNumberJson``, ``SignNameJson``, ``TemplateParamJson``: each number with its own
parameters; one ``TemplateCode`` per request, so a batch is split by template, and at most
:data:`MAX_BATCH` numbers) plus ``OutIdJson``, one idempotency key per number; the answer
must give a status per key (``SendStatusSet``: ``OutId``, ``Code``, ``BizId``, the shape of
Tencent Cloud's per-number ``SendStatusSet``). Aliyun's own ``SendBatchSms`` takes a single
``OutId`` and answers one ``BizId`` for the whole request, so it cannot tell which number
was accepted: batch mode is for a gateway that keys and answers per number (the provider
stand-in does); with any other, keep ``batch_size`` 1. A request-level answer (throttled,
a 5xx, a timeout, a refused signature or template) applies to every message of the
request; a status per number is mapped like a single send's ``Code``; a key the answer
leaves out is transient (sent again under the same key, accepted once).

Answers (``Code`` in the JSON body) and what the dispatcher does with them:

- ``OK``: accepted; ``BizId`` is the provider's reference (delivery receipts name it);
- throttling (``isv.BUSINESS_LIMIT_CONTROL``: the per-number frequency control,
  ``isv.DAY_LIMIT_CONTROL``, ``Throttling*``, HTTP 429): transient, with ``retry_after``
  from ``Retry-After`` or the option ``throttle_retry_after`` (60 s);
- ``isv.MOBILE_NUMBER_ILLEGAL``: permanent, the number is invalid (the contact point is
  marked invalid);
- a template, signature or parameter refused (``isv.SMS_TEMPLATE_ILLEGAL``,
  ``isv.TEMPLATE_MISSING_PARAMETERS``, ``isv.SMS_SIGNATURE_ILLEGAL``,
  ``isv.BLACK_KEY_CONTROL_LIMIT``, ...): permanent, the number stays valid;
- ``isp.SYSTEM_ERROR``, HTTP 5xx, a timeout, a broken connection, the account's own
  troubles (balance, suspension, a signature of ours refused): transient;
- any other code: transient (tried again, then dead-lettered after the dispatcher's N
  tries, where it is visible and retryable) rather than silently dropped.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx2

from forbear.channels import providers
from forbear.channels.base import (
    Accepted,
    ChannelFailure,
    OutgoingMessage,
    PermanentFailure,
    TransientFailure,
)
from forbear.domain.errors import ConfigurationError

API_VERSION = "2017-05-25"
DEFAULT_ENDPOINT = "https://dysms.aliyuncs.com/"
MAX_BATCH = 100  # numbers in one SendBatchSms request (Aliyun's limit)

THROTTLED = frozenset(
    {
        "isv.BUSINESS_LIMIT_CONTROL",
        "isv.DAY_LIMIT_CONTROL",
        "Throttling",
        "Throttling.User",
        "Throttling.Api",
        "Throttling.Concurrent",
    }
)
NUMBER_INVALID = frozenset({"isv.MOBILE_NUMBER_ILLEGAL"})
TEMPLATE_REFUSED = frozenset(
    {
        "isv.SMS_TEMPLATE_ILLEGAL",
        "isv.TEMPLATE_MISSING_PARAMETERS",
        "isv.TEMPLATE_PARAMS_ILLEGAL",
        "isv.SMS_SIGNATURE_ILLEGAL",
        "isv.SIGN_NAME_ILLEGAL",
        "isv.BLACK_KEY_CONTROL_LIMIT",
        "isv.PARAM_LENGTH_LIMIT",
        "isv.PARAM_NOT_SUPPORT_URL",
        "isv.INVALID_JSON_PARAM",
        "isv.INVALID_PARAMETERS",
    }
)
_DIGITS = re.compile(r"^\d{5,20}$")


_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")


def percent_encode(value: str) -> str:
    """RFC 3986 encoding as Aliyun's signature wants it (space %20, ``*`` %2A, ``~`` kept)."""
    if _UNRESERVED.fullmatch(value):  # most keys and values: nothing to encode
        return value
    return quote(value, safe="-_.~")


def canonical_query(params: Mapping[str, str]) -> str:
    """The parameters sorted by name and percent-encoded: what is signed, and the form
    body as posted (with the signature after it)."""
    return "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()))


def string_to_sign(method: str, params: Mapping[str, str]) -> str:
    return _to_sign(method, canonical_query(params))


def _to_sign(method: str, query: str) -> str:
    # The canonical query holds only unreserved characters, %XX, "&" and "=": encoding it
    # again is these three replacements (what quote() does, without its loop per byte).
    encoded = query.replace("%", "%25").replace("&", "%26").replace("=", "%3D")
    return f"{method}&%2F&{encoded}"


def _sign(secret: str, text: str) -> str:
    digest = hmac.new(f"{secret}&".encode(), text.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def rpc_signature(secret: str, method: str, params: Mapping[str, str]) -> str:
    """Aliyun RPC signature 1.0 of ``params`` (without ``Signature``) under ``secret``."""
    return _sign(secret, string_to_sign(method, params))


def normalise_number(raw: str) -> str | None:
    """The number as the gateway takes it: mainland numbers as 11 digits (``+86`` and
    ``86`` dropped), others as ``00`` + country code + number; None when it is no number."""
    number = re.sub(r"[\s\-()]", "", raw)
    if number.startswith("+86") and len(number) == 14:
        number = number[3:]
    elif number.startswith("86") and len(number) == 13 and number[2] == "1":
        number = number[2:]
    elif number.startswith("+"):
        number = "00" + number[1:]
    return number if _DIGITS.match(number) else None


def _number_of(message: OutgoingMessage) -> str:
    number = normalise_number(message.to)
    if number is None:
        raise PermanentFailure("not a mobile number", code="number_malformed", address_invalid=True)
    return number


def _left_out() -> TransientFailure:
    return TransientFailure("the SMS gateway's answer left the message out", code="no_status")


class SmsGatewayAdapter:
    """One SMS gateway account (see the module docstring for options and answers)."""

    kind = "sms_http"
    max_batch = MAX_BATCH

    def __init__(
        self,
        name: str,
        *,
        endpoint: str,
        access_key_id: str,
        access_key_secret: str,
        sign_name: str,
        templates: Mapping[str, str],
        text_template: str | None = None,
        region: str = "cn-hangzhou",
        rate_per_second: float | None = None,
        timeout: float = providers.DEFAULT_TIMEOUT,
        throttle_retry_after: float = providers.DEFAULT_RETRY_AFTER,
    ) -> None:
        self.name = name
        self.rate_per_second = rate_per_second
        self.endpoint = endpoint
        self.timeout = timeout
        self._key_id = access_key_id
        self._secret = access_key_secret
        self._sign_name = sign_name
        self._templates = dict(templates)
        self._text_template = text_template
        self._region = region
        self._throttle_retry_after = throttle_retry_after
        self._client = providers.http_client(timeout)

    @classmethod
    def from_options(
        cls,
        name: str,
        options: Mapping[str, Any],
        *,
        data_dir: Path,
        secrets: Mapping[str, str],
    ) -> SmsGatewayAdapter:
        del data_dir  # nothing written locally
        read = providers.Options(
            name,
            options,
            {
                "endpoint",
                "access_key_id",
                "sign_name",
                "templates",
                "text_template",
                "region",
                "throttle_retry_after",
            },
        )
        templates = read.mapping("templates")
        text_template = read.optional_text("text_template")
        if not templates and text_template is None:
            raise ConfigurationError(
                f"channel provider {name!r}: give 'templates' (Forbear template code -> the "
                "provider's template id) or 'text_template'"
            )
        throttle = read.number("throttle_retry_after", providers.DEFAULT_RETRY_AFTER)
        assert throttle is not None
        return cls(
            name,
            endpoint=read.url("endpoint", DEFAULT_ENDPOINT),
            access_key_id=read.text("access_key_id"),
            access_key_secret=providers.secret_for(name, secrets, what="the AccessKeySecret"),
            sign_name=read.text("sign_name"),
            templates=templates,
            text_template=text_template,
            region=read.text("region", "cn-hangzhou"),
            rate_per_second=read.rate(),
            timeout=read.timeout(),
            throttle_retry_after=throttle,
        )

    def _template(self, message: OutgoingMessage) -> tuple[str, dict[str, str]]:
        if message.template is not None and message.template in self._templates:
            return self._templates[message.template], dict(message.params)
        if self._text_template is not None:
            return self._text_template, {"content": message.body}
        raise PermanentFailure(
            "no provider template for this message's template", code="template_unmapped"
        )

    def request_params(self, message: OutgoingMessage) -> dict[str, str]:
        """The signed ``SendSms`` parameters for ``message`` (the form body posted)."""
        params, _ = self._signed(message)
        return params

    def _signed(self, message: OutgoingMessage) -> tuple[dict[str, str], str]:
        """The signed parameters and the form body: the canonical query (sorted, encoded
        once for both the signature and the body) and the signature."""
        number = _number_of(message)
        template_code, template_params = self._template(message)
        return self._sign_params(
            "SendSms",
            {
                "PhoneNumbers": number,
                "SignName": self._sign_name,
                "TemplateCode": template_code,
                "TemplateParam": json.dumps(template_params, ensure_ascii=False, sort_keys=True),
                "OutId": message.message_id,
            },
        )

    def _sign_params(self, action: str, fields: Mapping[str, str]) -> tuple[dict[str, str], str]:
        params = {
            "AccessKeyId": self._key_id,
            "Action": action,
            "Format": "JSON",
            "RegionId": self._region,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "Timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "Version": API_VERSION,
            **fields,
        }
        query = canonical_query(params)
        params["Signature"] = signature = _sign(self._secret, _to_sign("POST", query))
        return params, f"{query}&Signature={percent_encode(signature)}"

    def _post(self, action: str, body: str) -> httpx2.Response:
        return providers.post(
            self._client,
            self.endpoint,
            content=body.encode("ascii"),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "x-acs-action": action,
                "x-acs-version": API_VERSION,
            },
        )

    def send(self, message: OutgoingMessage) -> Accepted:
        _, body = self._signed(message)
        return self._answer(self._post("SendSms", body))

    def batch_params(self, messages: Sequence[OutgoingMessage]) -> dict[str, str]:
        """The signed ``SendBatchSms`` parameters for ``messages`` (one template, every
        number valid: what :meth:`send_many` posts for each of its requests)."""
        items = [(m.message_id, _number_of(m), *self._template(m)) for m in messages]
        codes = {code for _, _, code, _ in items}
        if len(codes) != 1:
            raise ValueError("a batch request carries one template")
        params, _ = self._batch_signed(codes.pop(), [(k, n, p) for k, n, _, p in items])
        return params

    def _batch_signed(
        self, template_code: str, items: Sequence[tuple[str, str, Mapping[str, str]]]
    ) -> tuple[dict[str, str], str]:
        """``items``: (message id, number, template parameters) for one request."""
        return self._sign_params(
            "SendBatchSms",
            {
                "PhoneNumberJson": json.dumps([number for _, number, _ in items]),
                "SignNameJson": json.dumps([self._sign_name] * len(items), ensure_ascii=False),
                "TemplateCode": template_code,
                "TemplateParamJson": json.dumps(
                    [dict(p) for _, _, p in items], ensure_ascii=False, sort_keys=True
                ),
                "OutIdJson": json.dumps([key for key, _, _ in items]),
            },
        )

    def send_many(self, messages: Sequence[OutgoingMessage]) -> list[Accepted | ChannelFailure]:
        """Each message's outcome, in order (module docstring: batches). A message that can
        never go (no number, no template) fails at once and is not sent; the others go in
        one ``SendBatchSms`` request per template and :data:`MAX_BATCH` numbers."""
        answers: list[Accepted | ChannelFailure | None] = [None] * len(messages)
        groups: dict[str, list[tuple[int, str, Mapping[str, str]]]] = {}
        for i, message in enumerate(messages):
            try:
                number = _number_of(message)
                code, params = self._template(message)
            except PermanentFailure as exc:
                answers[i] = exc
                continue
            groups.setdefault(code, []).append((i, number, params))
        for code, items in groups.items():
            for start in range(0, len(items), MAX_BATCH):
                part = items[start : start + MAX_BATCH]
                request = [(messages[i].message_id, n, p) for i, n, p in part]
                outcomes = self._send_batch(code, request)
                for (i, _, _), outcome in zip(part, outcomes, strict=True):
                    answers[i] = outcome
        return [a if a is not None else _left_out() for a in answers]

    def _send_batch(
        self, template_code: str, items: Sequence[tuple[str, str, Mapping[str, str]]]
    ) -> list[Accepted | ChannelFailure]:
        _, body = self._batch_signed(template_code, items)
        try:
            response = self._post("SendBatchSms", body)
        except TransientFailure as exc:  # a timeout, a broken connection: all of them
            return [exc] * len(items)
        try:
            payload = response.json()
        except ValueError:
            payload = None
        raw_code = payload.get("Code") if isinstance(payload, dict) else None
        code = providers.safe_code(raw_code)
        statuses = payload.get("SendStatusSet") if isinstance(payload, dict) else None
        if response.status_code != 200 or code != "OK" or not isinstance(statuses, list):
            failure = self._failure(response, code)
            return [failure] * len(items)
        by_key: dict[str, Mapping[str, Any]] = {}
        for status in statuses:
            if isinstance(status, dict) and isinstance(status.get("OutId"), str):
                by_key.setdefault(status["OutId"], status)
        outcomes: list[Accepted | ChannelFailure] = []
        for key, _, _ in items:
            status = by_key.get(key)
            if status is None:
                outcomes.append(_left_out())
                continue
            item_code = providers.safe_code(status.get("Code"))
            if item_code == "OK":
                biz_id = status.get("BizId")
                ref = str(biz_id)[:128] if biz_id else None
                outcomes.append(Accepted(provider=self.name, provider_ref=ref))
            else:
                outcomes.append(self._failure(response, item_code, item=True))
        return outcomes

    def _answer(self, response: httpx2.Response) -> Accepted:
        try:
            payload = response.json()
            raw_code = payload.get("Code") if isinstance(payload, dict) else None
        except ValueError:
            payload, raw_code = None, None
        code = providers.safe_code(raw_code)
        if response.status_code == 200 and code == "OK":
            biz_id = payload.get("BizId") if isinstance(payload, dict) else None
            ref = str(biz_id)[:128] if biz_id else None
            return Accepted(provider=self.name, provider_ref=ref)
        raise self._failure(response, code)

    def _failure(
        self, response: httpx2.Response, code: str | None, *, item: bool = False
    ) -> ChannelFailure:
        """What an answer that is not ``OK`` means: the whole answer's (its HTTP status and
        ``Code``), or with ``item`` one number's ``Code`` in a batch answer (the HTTP
        status, 200, then says nothing of it)."""
        status = 200 if item else response.status_code
        if status == 429 or code in THROTTLED:
            return TransientFailure(
                "the SMS gateway throttled the send",
                code=code or "http_429",
                retry_after=providers.retry_after(response, self._throttle_retry_after),
            )
        if code in NUMBER_INVALID:
            return PermanentFailure("the number is invalid", code=code, address_invalid=True)
        if code in TEMPLATE_REFUSED:
            return PermanentFailure("the template or its parameters were refused", code=code)
        if status >= 500:
            return TransientFailure(
                "the SMS gateway failed",
                code=code or f"http_{status}",
                retry_after=providers.retry_after(response, None),
            )
        if code is None:
            return TransientFailure("the SMS gateway's answer is unreadable", code=f"http_{status}")
        return TransientFailure("the SMS gateway refused the send", code=code)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        self._client.close()
