"""Signed JSON webhooks: a generic one, the lender's app-push service and the AI-voice
platform.

Every request is a JSON ``POST`` (UTF-8) with these headers:

- ``X-Forbear-Timestamp``: unix seconds; ``X-Forbear-Signature``: hex HMAC-SHA256 of
  ``<timestamp>.<body bytes>`` under the provider's secret (``channel_secrets``,
  :mod:`forbear.domain.signatures`; the receiver checks it and a 5-minute window);
- ``X-Idempotency-Key``: the outbox message id; the receiver keeps the first request of a
  key and answers a repeat as accepted without acting twice.

The answer the receiver gives, and what the dispatcher makes of it:

- 2xx: accepted; a JSON body's ``provider_ref`` (or ``id``) is kept for receipts;
- 409: this key was accepted before: accepted (idempotency);
- 429: throttled, transient, ``Retry-After`` honoured;
- 408, 5xx, a timeout, a broken connection; 401/403 (our signature or key refused, the
  message is not at fault): transient;
- another 4xx with ``{"error": "invalid_address"}``: permanent, the address (phone number,
  app user) is invalid and the contact point is marked so; any other 4xx: permanent.

A channels file entry (``forbear.channels.config``)::

    providers:
      lender-push:
        kind: push
        channels: [app_push]
        url: https://push.lender.example/forbear
        rate_per_second: 200
      lender-voice:
        kind: voice
        channels: [ai_call]
        url: https://voice.lender.example/tasks
        callback_url: https://forbear.lender.example/api/v1/channels/lender-voice/receipts
      wechat-hook:
        kind: webhook
        channels: [im]
        url: https://im.lender.example/hooks/forbear

Bodies:

- ``webhook``: the message as it is: ``{message_id, channel, to, lang, subject, body,
  template, params, borrower_ref, loan_ref}``;
- ``push``: ``{message_id, user_id, title, body, lang, template, borrower_ref, loan_ref}``
  (``to`` is the lender's app user id; the title defaults to the language's notice title);
- ``voice``: ``{task_id, phone, lang, script, template, params, voice, borrower_ref,
  loan_ref, callback: {url, reference, provider}}``: a task for the AI-voice platform,
  whose ``script`` is the rendered text to speak. The platform reports the call's outcome
  later, signed the same way with this provider's secret, by ``POST`` to
  ``/api/v1/channels/<provider>/receipts`` (the ``callback.url``) with::

      {"message_id": "<callback.reference>",
       "status": "delivered" | "failed" | "answered" | "no_answer" | "busy" | "invalid_number",
       "at": "2026-12-07T09:31:02+08:00",      # ISO 8601 with its offset
       "provider_ref": "<the platform's task or call id>"}
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Self

import httpx2

from forbear.channels import providers
from forbear.channels.base import Accepted, OutgoingMessage, PermanentFailure, TransientFailure
from forbear.domain.signatures import sign

TIMESTAMP_HEADER = "X-Forbear-Timestamp"
SIGNATURE_HEADER = "X-Forbear-Signature"
IDEMPOTENCY_HEADER = "X-Idempotency-Key"

PUSH_TITLES = {"zh": "还款提醒", "en": "Repayment notice"}


class JsonWebhookAdapter:
    """A generic signed JSON webhook (see the module docstring)."""

    kind: ClassVar[str] = "webhook"
    extra_options: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self,
        name: str,
        *,
        url: str,
        secret: str,
        rate_per_second: float | None = None,
        timeout: float = providers.DEFAULT_TIMEOUT,
        extra: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.url = url
        self.rate_per_second = rate_per_second
        self.timeout = timeout
        self._secret = secret.encode()
        self._extra = dict(extra or {})
        self._client = providers.http_client(timeout)

    @classmethod
    def from_options(
        cls,
        name: str,
        options: Mapping[str, Any],
        *,
        data_dir: Path,
        secrets: Mapping[str, str],
    ) -> Self:
        del data_dir  # nothing written locally
        read = providers.Options(name, options, {"url", *cls.extra_options})
        extra: dict[str, str] = {}
        for key in sorted(cls.extra_options):
            if key.endswith("_url") and read.has(key):
                extra[key] = read.url(key)
            elif read.has(key):
                extra[key] = read.text(key)
        return cls(
            name,
            url=read.url("url"),
            secret=providers.secret_for(name, secrets, what="the webhook signing secret"),
            rate_per_second=read.rate(),
            timeout=read.timeout(),
            extra=extra,
        )

    def payload(self, message: OutgoingMessage) -> dict[str, Any]:
        return {
            "message_id": message.message_id,
            "channel": message.channel,
            "to": message.to,
            "lang": message.lang,
            "subject": message.subject,
            "body": message.body,
            "template": message.template,
            "params": dict(message.params),
            "borrower_ref": message.borrower_ref,
            "loan_ref": message.loan_ref,
        }

    def signed_request(self, message: OutgoingMessage) -> tuple[bytes, dict[str, str]]:
        """The body and headers posted for ``message``."""
        body = json.dumps(
            self.payload(message), ensure_ascii=False, separators=(",", ":"), sort_keys=True
        ).encode("utf-8")
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Forbear",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(self._secret, timestamp, body),
            IDEMPOTENCY_HEADER: message.message_id,
        }
        return body, headers

    def send(self, message: OutgoingMessage) -> Accepted:
        body, headers = self.signed_request(message)
        response = providers.post(self._client, self.url, content=body, headers=headers)
        return self._answer(response)

    def _answer(self, response: httpx2.Response) -> Accepted:
        status = response.status_code
        payload: Any = None
        if response.content:
            try:
                payload = response.json()
            except ValueError:
                payload = None
        fields = payload if isinstance(payload, dict) else {}
        if 200 <= status < 300 or status == 409:
            ref = fields.get("provider_ref") or fields.get("id")
            return Accepted(provider=self.name, provider_ref=str(ref)[:128] if ref else None)
        error = fields.get("error")
        code = providers.safe_code(error) or f"http_{status}"
        if status == 429:
            raise TransientFailure(
                "the endpoint throttled the send",
                code=code,
                retry_after=providers.retry_after(response, providers.DEFAULT_RETRY_AFTER),
            )
        if status == 408 or status >= 500:
            raise TransientFailure(
                "the endpoint failed", code=code, retry_after=providers.retry_after(response, None)
            )
        if status in (401, 403):
            raise TransientFailure("the endpoint refused our signature or key", code=code)
        if error == "invalid_address":
            raise PermanentFailure("the address is invalid", code=code, address_invalid=True)
        if 400 <= status < 500:
            raise PermanentFailure("the endpoint refused the message", code=code)
        raise TransientFailure("the endpoint's answer is unexpected", code=f"http_{status}")

    def flush(self) -> None:
        return None

    def close(self) -> None:
        self._client.close()


class PushAdapter(JsonWebhookAdapter):
    """App push through the lender's own push service: ``to`` is its app user id."""

    kind = "push"

    def payload(self, message: OutgoingMessage) -> dict[str, Any]:
        title = message.subject or PUSH_TITLES.get(message.lang, PUSH_TITLES["zh"])
        return {
            "message_id": message.message_id,
            "user_id": message.to,
            "title": title,
            "body": message.body,
            "lang": message.lang,
            "template": message.template,
            "borrower_ref": message.borrower_ref,
            "loan_ref": message.loan_ref,
        }


class VoiceAdapter(JsonWebhookAdapter):
    """A task for the lender's AI-voice platform: the script to speak and where to report
    the outcome (the receipt endpoint; payload in the module docstring)."""

    kind = "voice"
    extra_options = frozenset({"callback_url", "voice"})

    def payload(self, message: OutgoingMessage) -> dict[str, Any]:
        callback: dict[str, str] = {"reference": message.message_id, "provider": self.name}
        if "callback_url" in self._extra:
            callback["url"] = self._extra["callback_url"]
        return {
            "task_id": message.message_id,
            "phone": message.to,
            "lang": message.lang,
            "script": message.body,
            "template": message.template,
            "params": dict(message.params),
            "voice": self._extra.get("voice"),
            "borrower_ref": message.borrower_ref,
            "loan_ref": message.loan_ref,
            "callback": callback,
        }
