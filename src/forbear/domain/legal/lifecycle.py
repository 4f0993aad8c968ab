"""The stages of a legal case and the moves allowed between them.

::

    review -> demand_letter -> filed -> judgment -> enforcement
       \\            \\____________\\_________\\____________\\-> settled
        \\___________________________________________________\\-> closed (with a reason)

A case moves forward only (a stage may be skipped, e.g. a settlement reached during
review goes to ``closed`` with the reason, or a judgment that is paid never reaches
enforcement). ``settled`` is possible from ``demand_letter`` onwards (there is a demand to
settle), ``closed`` from any open stage with a reason; both end the case. A move
backwards, a move out of an ended case, or a move to the stage the case is at is refused
with the reason, and nothing changes.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from forbear.domain.errors import Conflict, ValidationError


class Stage(StrEnum):
    REVIEW = "review"  # 法务审核
    DEMAND_LETTER = "demand_letter"  # 催告函已发出
    FILED = "filed"  # 已立案
    JUDGMENT = "judgment"  # 已判决 / 调解
    ENFORCEMENT = "enforcement"  # 强制执行 (by the court, on the lender's application)
    SETTLED = "settled"  # 和解结清
    CLOSED = "closed"  # 结案 (withdrawn, uncollectable, paid, ...)

    @property
    def label_zh(self) -> str:
        return _LABELS_ZH[self]

    @property
    def is_final(self) -> bool:
        return self in FINAL


_LABELS_ZH = {
    Stage.REVIEW: "法务审核",
    Stage.DEMAND_LETTER: "已发催告函",
    Stage.FILED: "已立案",
    Stage.JUDGMENT: "已判决",
    Stage.ENFORCEMENT: "执行中",
    Stage.SETTLED: "已和解",
    Stage.CLOSED: "已结案",
}
# The open stages, in order.
ORDER = (Stage.REVIEW, Stage.DEMAND_LETTER, Stage.FILED, Stage.JUDGMENT, Stage.ENFORCEMENT)
FINAL = frozenset({Stage.SETTLED, Stage.CLOSED})
OPEN_STAGES = frozenset(ORDER)


class CostKind(StrEnum):
    """Costs of a case, in fen. Costs are the lender's records; whether the court orders
    the debtor to bear any of them is for the judgment, never for a letter."""

    COURT_FEE = "court_fee"  # 诉讼费 / 案件受理费
    LAWYER_FEE = "lawyer_fee"  # 律师费
    PRESERVATION_FEE = "preservation_fee"  # 保全费
    NOTARY_FEE = "notary_fee"  # 公证费
    SERVICE_FEE = "service_fee"  # 送达 / 公告费
    ENFORCEMENT_FEE = "enforcement_fee"  # 执行费
    OTHER = "other"

    @property
    def label_zh(self) -> str:
        return _COST_ZH[self]


_COST_ZH = {
    CostKind.COURT_FEE: "诉讼费",
    CostKind.LAWYER_FEE: "律师费",
    CostKind.PRESERVATION_FEE: "保全费",
    CostKind.NOTARY_FEE: "公证费",
    CostKind.SERVICE_FEE: "送达费",
    CostKind.ENFORCEMENT_FEE: "执行费",
    CostKind.OTHER: "其他费用",
}


def stage(value: str) -> Stage:
    try:
        return Stage(value)
    except ValueError:
        known = ", ".join(s.value for s in Stage)
        raise ValidationError("stage", f"unknown stage {value!r} (one of: {known})") from None


def cost_kind(value: str) -> CostKind:
    try:
        return CostKind(value)
    except ValueError:
        known = ", ".join(k.value for k in CostKind)
        raise ValidationError("cost", f"unknown cost kind {value!r} (one of: {known})") from None


def check_move(
    case_id: int,
    current: Stage,
    target: Stage,
    *,
    on: date,
    last_on: date,
    court: str | None = None,
    case_number: str | None = None,
    known_court: str | None = None,
    known_case_number: str | None = None,
    reason: str | None = None,
) -> None:
    """Refuse a move that the lifecycle does not allow, saying why; return if allowed.

    ``last_on`` is the date of the stage the case is at: a later stage cannot be dated
    before it. Filing needs the court and the case number (立案案号), unless the case
    already has them; closing needs a reason.
    """
    where = f"case {case_id} is at {current.value!r}"
    if current.is_final:
        raise Conflict(f"{where}: the case has ended; open a new case instead")
    if target is current:
        raise Conflict(f"{where} already")
    if target in OPEN_STAGES and ORDER.index(target) < ORDER.index(current):
        raise Conflict(
            f"{where}: it cannot move back to {target.value!r} "
            f"(stages only move forward: {' -> '.join(s.value for s in ORDER)})"
        )
    if target is Stage.SETTLED and current is Stage.REVIEW:
        raise Conflict(
            f"{where}: a case settles after a demand (demand_letter onwards); "
            "close it with a reason instead"
        )
    if on < last_on:
        raise ValidationError(
            "date", f"{on.isoformat()} is before the current stage's date {last_on.isoformat()}"
        )
    if target is Stage.CLOSED and not (reason and reason.strip()):
        raise ValidationError("reason", "closing a case needs a reason")
    if target is Stage.FILED:
        if not ((court or known_court) or "").strip():
            raise ValidationError("court", "filing needs the court")
        if not ((case_number or known_case_number) or "").strip():
            raise ValidationError("case_number", "filing needs the court's case number (案号)")
    elif case_number and target in (Stage.REVIEW, Stage.DEMAND_LETTER):
        raise ValidationError("case_number", "a case number is given when the case is filed")
