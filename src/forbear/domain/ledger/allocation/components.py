"""The components a payment is allocated to, in the order the ledger keeps them."""

from __future__ import annotations

from forbear.domain.products import (
    Component,
)

CREDIT = "credit"
COMPONENTS: tuple[Component, ...] = (
    Component.PENALTY,
    Component.FEE,
    Component.INTEREST,
    Component.PRINCIPAL,
)
