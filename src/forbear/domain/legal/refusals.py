"""A refusal of one form field in the legal area, with the catalogue key that says why."""

from __future__ import annotations

from typing import Any

from forbear.domain.errors import ValidationError


class LegalRefused(ValidationError):
    """A value the legal use cases refuse: ``field`` is the form field it came from, the
    message says why in English, ``key`` and ``values`` are the catalogue entry
    (``legal.*`` in :mod:`forbear.web.messages.legal`) a front end shows beside the field
    in its reader's language."""

    def __init__(self, field: str, reason: str, key: str, **values: Any) -> None:
        super().__init__(field, reason)
        self.key = key
        self.values = values
