"""An optional rephrasing of the assistant's finished replies by a language model (issue
14, item 6). Off by default: only when the settings give ``llm_url``.

The model is asked for one thing: to say a finished reply again, more naturally, in the same
language. It never decides an amount, a day or an action: :func:`keeps_facts` refuses an
answer that drops, changes or adds any number (amounts, days, help lines, a complaint's
reference), and the engine then checks the answer with the same guardrails and content
filter as the original; whenever anything is off (a timeout, an HTTP error, an answer that
is not the expected JSON, too long, another language) the original is used.

The endpoint is OpenAI-compatible (``POST {llm_url}`` with ``{"model", "messages"}``,
answer ``choices[0].message.content``), reached over :mod:`httpx2` with every phase bounded
and no proxies from the environment, the whole answer read against a deadline.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any, Protocol

import httpx2

from forbear.assistant.nlu.normalise import detect_language

TIMEOUT = 3.0  # seconds: the borrower is waiting
MAX_ANSWER = 64 * 1024  # bytes
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")

SYSTEM_PROMPT = (
    "You rephrase one customer-service reply so it reads naturally and politely. Keep the "
    "same language as the reply. Keep every number, amount, date and phone number exactly "
    "as written. Add no information, no promise, no request to pay and no question. "
    "Answer with the rephrased reply only."
)


class Rephraser(Protocol):
    def rephrase(self, text: str, lang: str) -> str | None:
        """A rephrased ``text`` or None (use the original)."""
        ...


def numbers(text: str) -> list[str]:
    """The numbers of ``text`` in order, separators dropped (``¥2,000.00`` -> ``200000``)."""
    return [re.sub(r"[.,]", "", n) for n in _NUMBER.findall(text)]


def keeps_facts(original: str, candidate: str, lang: str) -> bool:
    """Whether ``candidate`` keeps every number of ``original`` (the same multiset: none
    dropped, changed or added), is in the same language and not much longer."""
    if not candidate.strip() or len(candidate) > 2 * len(original) + 80:
        return False
    if sorted(numbers(original)) != sorted(numbers(candidate)):
        return False
    return detect_language(candidate, default="zh") == ("en" if lang == "en" else "zh")


class LlmRephraser:
    """The OpenAI-compatible adapter."""

    def __init__(
        self, url: str, *, key: str | None = None, model: str, timeout: float = TIMEOUT
    ) -> None:
        self.url = url
        self.model = model
        self.timeout = timeout
        self._headers = {"Content-Type": "application/json"}
        if key:
            self._headers["Authorization"] = f"Bearer {key}"
        self._client = httpx2.Client(
            timeout=httpx2.Timeout(timeout), trust_env=False, follow_redirects=False
        )

    def close(self) -> None:
        self._client.close()

    def _ask(self, text: str, lang: str) -> str | None:
        body = json.dumps(
            {
                "model": self.model,
                "temperature": 0.2,
                "messages": [
                    {"role": "system", "content": SYSTEM_PROMPT},
                    {"role": "user", "content": f"Language: {lang}\nReply:\n{text}"},
                ],
            },
            ensure_ascii=False,
        ).encode("utf-8")
        deadline = time.monotonic() + 2 * self.timeout
        with self._client.stream("POST", self.url, content=body, headers=self._headers) as r:
            if r.status_code != 200:
                return None
            raw = bytearray()
            for chunk in r.iter_bytes():
                raw.extend(chunk)
                if len(raw) > MAX_ANSWER or time.monotonic() > deadline:
                    return None
        answer: Any = json.loads(bytes(raw).decode("utf-8"))
        content = answer["choices"][0]["message"]["content"]
        return content.strip() if isinstance(content, str) else None

    def rephrase(self, text: str, lang: str) -> str | None:
        try:
            candidate = self._ask(text, lang)
        except (httpx2.HTTPError, ValueError, KeyError, IndexError, TypeError):
            return None
        if candidate is None or not keeps_facts(text, candidate, lang):
            return None
        return candidate


def from_settings(url: str | None, key: str | None, model: str) -> LlmRephraser | None:
    """The adapter the settings ask for, or None (the default: no model)."""
    if not url:
        return None
    return LlmRephraser(url, key=key, model=model)
