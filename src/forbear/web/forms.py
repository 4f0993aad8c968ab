"""Forms that keep the user's work (issue 15, item 4), for every area's pages.

Two helpers:

- :func:`refusal` turns a :class:`~forbear.domain.errors.ValidationError` into the words
  shown *beside its field*, in the user's language, with the field's label and the limit.
  A use case words its ``reason`` as a code, optionally with the limit after a colon
  (``required``, ``too_long:2000``, ``max:1200.00``, ``not_future``, ``too_far:30``, ...:
  the codes of :data:`REASONS`); any other reason is shown as it is. A page re-renders its
  form with ``errors`` (field -> words) and ``values`` (what was typed, :func:`kept`), and
  a status of 422::

      try:
          ...
      except ValidationError as exc:
          errors = refusal(t, exc, {"note": "workbench.note.label"})
          return page(..., status_code=422, errors=errors, values=kept(form))

  The template shows ``errors[name]`` under the field (class ``field-error``, linked by
  ``aria-describedby``) and fills ``values[name]`` back in.

- :func:`stash` / :func:`restore`: a form posted with an expired session is not lost.
  :func:`forbear.web.errors.unauthenticated` stashes its fields (minus the CSRF token and
  anything secret: :func:`kept`) in a short-lived cookie, *encrypted* (AES-GCM under a
  key derived from the session secret: free text may hold personal data) and bound to the
  page the form was on; after signing in, the user lands on that page and
  :class:`forbear.web.app.FormRestore` hands the fields to the page (``restored-form``
  JSON in ``base.html``, filled in by ``/static/forms.js``), then drops the cookie.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from forbear.domain.errors import ValidationError
from forbear.web.i18n import Translator

STASH_COOKIE = "forbear_form"
STASH_MAX_AGE = 15 * 60  # seconds: long enough to sign in again, no longer
STASH_MAX_BYTES = 3000  # a cookie holds about 4 KB; the rest of the form is not kept
_SECRET_WORDS = ("csrf", "password", "secret", "token", "code")

# Reason codes a use case may give (with ``:limit`` where it has one) -> catalogue key.
REASONS = {
    "required": "workbench.form.required",
    "too_long": "workbench.form.too_long",
    "max": "workbench.form.max",
    "min": "workbench.form.min",
    "not_future": "workbench.form.not_future",
    "too_far": "workbench.form.too_far",
    "not_a_number": "workbench.form.not_a_number",
    "out_of_range": "workbench.form.out_of_range",
    "bad_time": "workbench.form.bad_time",
}


def reason_words(t: Translator, reason: str) -> str:
    """``reason`` (a code of :data:`REASONS`, maybe with ``:limit``) in words."""
    code, _, limit = reason.partition(":")
    key = REASONS.get(code.strip())
    if key is None:
        return reason
    return t(key, limit=limit.strip())


def refusal(
    t: Translator, exc: ValidationError, labels: Mapping[str, str], *, default: str | None = None
) -> dict[str, str]:
    """``{field: words}`` for the refused value: the field's label (a catalogue key of
    ``labels``), the reason in words with its limit. A field the form does not show goes
    under ``default`` (or its own name)."""
    field = exc.field if exc.field in labels or default is None else default
    label_key = labels.get(exc.field)
    label = t(label_key) if label_key else exc.field
    return {field: t("workbench.form.refused", label=label, reason=reason_words(t, exc.reason))}


def kept(form: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> dict[str, str]:
    """The typed text fields of a form, minus the CSRF token and anything secret."""
    items = form.items() if isinstance(form, Mapping) else form
    values: dict[str, str] = {}
    for name, value in items:
        if not isinstance(value, str) or any(w in name.lower() for w in _SECRET_WORDS):
            continue
        values[name] = value
    return values


def _key(secret: bytes) -> bytes:
    return hashlib.sha256(b"forbear.form-stash\x00" + secret).digest()


def stash(secret: bytes, *, page: str, action: str, fields: Mapping[str, str], now: float) -> str:
    """The cookie value holding ``fields`` of the form posted to ``action`` from ``page``,
    encrypted; fields are dropped from the end when the cookie would grow too big."""
    kept_fields = dict(fields)
    while True:
        body = json.dumps(
            {"page": page, "action": action, "fields": kept_fields, "at": int(now)},
            ensure_ascii=False,
        ).encode("utf-8")
        if len(body) <= STASH_MAX_BYTES or not kept_fields:
            break
        kept_fields.pop(next(reversed(kept_fields)))
    nonce = os.urandom(12)
    sealed = AESGCM(_key(secret)).encrypt(nonce, body, STASH_COOKIE.encode())
    return base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def restore(secret: bytes, value: str, *, page: str, now: float) -> dict[str, Any] | None:
    """The stashed form for ``page`` (``{"action", "fields"}``), or None: another page's,
    too old, forged or garbled."""
    try:
        raw = base64.urlsafe_b64decode(value.encode("ascii"))
        body = AESGCM(_key(secret)).decrypt(raw[:12], raw[12:], STASH_COOKIE.encode())
        found = json.loads(body.decode("utf-8"))
    except (ValueError, InvalidTag, UnicodeError):
        return None
    if not isinstance(found, dict) or found.get("page") != page:
        return None
    if not isinstance(found.get("at"), int) or not 0 <= now - found["at"] <= STASH_MAX_AGE:
        return None
    fields = found.get("fields")
    if not isinstance(fields, dict):
        return None
    return {"action": str(found.get("action", "")), "fields": fields}
