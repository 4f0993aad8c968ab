"""The amounts a legal case claims, by component, from the ledger state.

The claim is what the ledger says is owed on the date: the whole outstanding principal
(overdue and not yet due: a lawsuit claims the loan, under the contract's acceleration
clause), plus the overdue interest, penalty interest (罚息) and fees. Nothing else: no
collection fee, no estimated court cost (CN.LANG.NO_NEW_BORROWING, CN.LANG.PROHIBITED).
Every claim is checked against the loan's contract (:func:`forbear.domain.contracts.
check_claim`): a ``refuse`` finding blocks the documents, a ``legal_review`` finding
(CN.RATE.LICENSED) is shown prominently in them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from forbear.domain.contracts import Claim


@dataclass(frozen=True, slots=True)
class ClaimAmounts:
    """Fen, by component. ``overdue_principal`` is the part of ``principal`` already due."""

    principal: int
    overdue_principal: int
    interest: int
    penalty: int
    fees: int

    @property
    def total(self) -> int:
        return self.principal + self.interest + self.penalty + self.fees

    def components(self) -> list[tuple[str, str, str, int]]:
        """``(key, zh, en, fen)`` rows in the order documents show them."""
        return [
            ("principal", "本金", "Principal", self.principal),
            ("interest", "利息", "Interest", self.interest),
            ("penalty", "罚息", "Penalty interest", self.penalty),
            ("fees", "费用", "Fees", self.fees),
        ]

    def claim(self, *, interest_rate_bp: int | None, penalty_rate_bp: int | None) -> Claim:
        """The claim to check against the contract, with the rates the ledger used."""
        return Claim(
            principal=self.principal,
            interest=self.interest,
            penalty=self.penalty,
            fees=self.fees,
            interest_rate_bp=interest_rate_bp,
            penalty_rate_bp=penalty_rate_bp,
        )


def from_state(state: Mapping[str, Any]) -> ClaimAmounts:
    """The claim from one ledger state row (``forbear.domain.ledger.schema.STATES``)."""
    return ClaimAmounts(
        principal=int(state["outstanding_principal"] or 0),
        overdue_principal=int(state["overdue_principal"] or 0),
        interest=int(state["overdue_interest"] or 0),
        penalty=int(state["overdue_penalty"] or 0),
        fees=int(state["overdue_fee"] or 0),
    )
