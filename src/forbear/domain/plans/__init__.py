"""Repayment plans (还款计划调整): deferral, restructuring, settlement, hardship.

Pure code on plain data (no database, no clock): a loan's position from the ledger
(:mod:`.position`), the calculators and the affordability check (:mod:`.offers`), the
policy of limits by role, product and tier (:mod:`.policy`), the life cycle and the
missed-payment rule (:mod:`.lifecycle`), and the effective schedule an active plan gives
the ledger (:mod:`.ledger`). Use cases are in :mod:`forbear.services.plans`; the guide for
collection managers is docs/plans.md.
"""

from __future__ import annotations

from forbear.domain.plans.model import (
    Affordability,
    Amounts,
    LineKind,
    OpenLine,
    PlanLine,
    PlanOffer,
    PlanStatus,
    PlanType,
    Position,
)
from forbear.domain.plans.offers import PlanRequest, affordability, build_offer, check_authority
from forbear.domain.plans.position import position_of

__all__ = [
    "Affordability",
    "Amounts",
    "LineKind",
    "OpenLine",
    "PlanLine",
    "PlanOffer",
    "PlanRequest",
    "PlanStatus",
    "PlanType",
    "Position",
    "affordability",
    "build_offer",
    "check_authority",
    "position_of",
]
