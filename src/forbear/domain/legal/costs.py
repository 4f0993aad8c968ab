"""A cost of a legal case as typed on the case page: its kind, an amount in yuan and the
day it was incurred (the lender's records; whether the debtor bears any of it is for the
court, never for a letter)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date

from forbear.domain.errors import ValidationError
from forbear.domain.legal.lifecycle import CostKind
from forbear.domain.legal.refusals import LegalRefused
from forbear.domain.money import FEN_PER_YUAN, format_yuan, parse_yuan

MAX_COST = 1_000_000 * FEN_PER_YUAN  # one cost above a million yuan is a typing error


class CostRefused(LegalRefused):
    """A cost the case page refuses (keys ``legal.cost.*``)."""


@dataclass(frozen=True, slots=True)
class Cost:
    kind: CostKind
    amount: int  # fen
    incurred_on: date


def parse_cost(
    kind: str, amount: str, incurred_on: date | None, *, opened_on: date, today: date
) -> Cost:
    """Check one cost; :class:`CostRefused` names the field and why."""
    try:
        chosen = CostKind(kind)
    except ValueError:
        raise CostRefused("kind", f"unknown cost kind {kind!r}", "legal.cost.kind") from None
    text = unicodedata.normalize("NFKC", amount or "").strip()
    if not text:
        raise CostRefused("amount", "an amount in yuan is needed", "legal.cost.amount_missing")
    try:
        fen = parse_yuan(text, field="amount")
    except ValidationError:
        raise CostRefused(
            "amount",
            f"{text[:30]!r} is not an amount in yuan with at most 2 decimals",
            "legal.cost.amount_format",
        ) from None
    if fen <= 0:
        raise CostRefused("amount", "a cost must be more than 0", "legal.cost.amount_positive")
    if fen > MAX_COST:
        raise CostRefused(
            "amount",
            f"a cost is at most {format_yuan(MAX_COST)} yuan",
            "legal.cost.amount_max",
            max=format_yuan(MAX_COST),
        )
    day = incurred_on or today
    if day > today:
        raise CostRefused("incurred_on", f"{day.isoformat()} is in the future", "legal.cost.future")
    if day < opened_on:
        raise CostRefused(
            "incurred_on",
            f"{day.isoformat()} is before the case was opened ({opened_on.isoformat()})",
            "legal.cost.before_open",
            opened=opened_on.isoformat(),
        )
    return Cost(chosen, fen, day)
