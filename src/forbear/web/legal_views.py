"""View models of the legal console's floor work (issue 15, item 7), shared by its pages
and its API: the review queue's page and filters, the case page's facts, the cost and
proof-of-delivery forms, a refusal in the reader's language beside its field, and a
document download saved under its Chinese name."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import quote, urlencode

from fastapi.responses import Response
from pydantic import BaseModel, Field

from forbear.domain.errors import Conflict, ValidationError
from forbear.domain.legal.lifecycle import CostKind, Stage
from forbear.domain.legal.refusals import LegalRefused
from forbear.domain.money import parse_yuan
from forbear.services.documents.desk import Download
from forbear.services.legal.detail import CaseDetail
from forbear.services.legal.review import SORTS, WAITING, QueueFilter, QueuePage
from forbear.web.i18n import Translator
from forbear.web.permissions import MAX_ID
from forbear.web.schema_base import Request as StrictRequest

FILE_TYPES = {".pdf": "application/pdf", ".csv": "text/csv; charset=utf-8"}

# the form fields of the case page, and the catalogue key of each one's label
LABELS = {
    "proof_kind": "legal.proof.kind_label",
    "tracking_number": "legal.proof.tracking_label",
    "receipt_ref": "legal.proof.receipt_label",
    "signed_on": "legal.proof.signed_label",
    "court": "collection.legal_court",
    "case_number": "collection.legal_case_number",
    "reason": "collection.legal_reason",
    "kind": "legal.cost.kind_label",
    "amount": "legal.cost.amount_label",
    "incurred_on": "legal.cost.incurred_label",
}
# what a plain ValidationError of the lifecycle means, by field
_FIELD_KEYS = {
    "court": "legal.advance.court_missing",
    "case_number": "legal.advance.case_number",
    "reason": "legal.advance.reason_missing",
    "date": "legal.advance.date",
    "signed_on": "legal.form.date",
    "incurred_on": "legal.form.date",
}


def refusal_words(t: Translator, exc: Exception) -> tuple[str, str]:
    """``(field, words)``: where the refusal goes on the form and what it says, in the
    reader's language (the English message stays in the logs and the API)."""
    if isinstance(exc, LegalRefused):
        return exc.field, t(exc.key, **{k: str(v) for k, v in exc.values.items()})
    if isinstance(exc, ValidationError):
        key = _FIELD_KEYS.get(exc.field)
        return exc.field, t(key) if key else t("legal.form.invalid", label=exc.field)
    if isinstance(exc, Conflict):
        text = str(exc)
        if "dispute hold" in text:
            return "to", t("legal.advance.disputed")
        if "limitation period has run" in text:
            return "to", t("legal.advance.time_barred")
        if "has ended" in text:
            return "to", t("legal.advance.ended")
        if "move back" in text or "already" in text or "settles after" in text:
            return "to", t("legal.advance.order")
        return "to", t("legal.advance.conflict")
    raise exc


# ----------------------------------------------------------------------- the queue


def queue_filter(
    *,
    sort: str | None,
    stage: str | None,
    min_yuan: str | None,
    max_yuan: str | None,
    within: str | None,
    page: int,
    per_page: int,
) -> QueueFilter:
    """The queue's filter from the page's query (amounts typed in yuan)."""

    def fen(text: str | None, field: str) -> int | None:
        if not (text or "").strip():
            return None
        try:
            return parse_yuan(str(text), field=field)
        except ValidationError:
            raise LegalRefused(
                field, "not an amount in yuan", "legal.queue.amount_format"
            ) from None

    days: int | None = None
    if (within or "").strip():
        try:
            days = int(str(within).strip())
        except ValueError:
            raise LegalRefused("within", "a whole number of days", "legal.queue.within") from None
    stages = {WAITING, *(s.value for s in Stage)}
    return QueueFilter(
        sort=sort if sort in SORTS else "queued",
        stage=stage if stage in stages else None,
        min_amount=fen(min_yuan, "min_amount"),
        max_amount=fen(max_yuan, "max_amount"),
        within=days,
        page=page,
        per_page=per_page,
    ).check()


def page_link(wanted: QueueFilter, **changes: Any) -> str:
    """The queue page's URL with ``wanted``'s filter and ``changes`` (amounts in yuan)."""
    values: dict[str, Any] = {
        "sort": wanted.sort,
        "stage": wanted.stage,
        "min": None if wanted.min_amount is None else wanted.min_amount / 100,
        "max": None if wanted.max_amount is None else wanted.max_amount / 100,
        "within": wanted.within,
        "page": wanted.page,
        "per_page": wanted.per_page,
    }
    values.update(changes)
    shown = {
        k: (f"{v:g}" if isinstance(v, float) else v)
        for k, v in values.items()
        if v not in (None, "")
    }
    return "/legal?" + urlencode(shown)


class QueueRowOut(BaseModel):
    entry_id: int
    loan_id: int
    loan_ref: str
    queued_on: date
    status: str
    reasons: list[dict[str, Any]]
    case_id: int | None
    stage: str | None
    claim: int | None = Field(description="fen: outstanding principal + overdue interest, fees")
    overdue: int | None = Field(description="fen overdue on the day")
    dpd: int | None
    limitation_date: date | None
    days_left: int | None


class QueuePageOut(BaseModel):
    as_of: date
    total: int
    page: int
    pages: int
    per_page: int
    sort: str
    items: list[QueueRowOut]


def queue_page_out(found: QueuePage) -> QueuePageOut:
    return QueuePageOut(
        as_of=found.as_of,
        total=found.total,
        page=found.page,
        pages=found.pages,
        per_page=found.per_page,
        sort=found.filter.sort,
        items=[QueueRowOut(**row.__dict__) for row in found.rows],
    )


# ----------------------------------------------------------------------- a case


class AdvanceIn(StrictRequest):
    """A move of a case; a move to ``demand_letter`` needs proof of delivery: a
    ``tracking_number``, or a ``receipt_ref`` with the day it was ``signed_on``
    (``evidence_ref``: the older one-string form, a tracking number)."""

    to: Stage = Field(examples=["demand_letter"])
    court: str | None = Field(default=None, min_length=1, max_length=200)
    case_number: str | None = Field(default=None, min_length=1, max_length=100)
    notes: str | None = Field(default=None, min_length=1, max_length=500)
    reason: str | None = Field(default=None, min_length=1, max_length=200)
    tracking_number: str | None = Field(
        default=None, min_length=1, max_length=40, examples=["EA123456785CN"]
    )
    receipt_ref: str | None = Field(default=None, min_length=1, max_length=64)
    signed_on: date | None = None
    evidence_ref: str | None = Field(default=None, min_length=1, max_length=200)

    def proof(self) -> tuple[str | None, str | None]:
        if self.receipt_ref is not None:
            return "receipt", self.receipt_ref
        if self.tracking_number is not None:
            return "tracking", self.tracking_number
        return None, None


class CostIn(StrictRequest):
    kind: CostKind = Field(examples=["court_fee"])
    amount: str = Field(min_length=1, max_length=20, examples=["1250.50"], description="yuan")
    incurred_on: date | None = None


class CaseIdIn(StrictRequest):
    loan_id: int = Field(ge=1, le=MAX_ID)


class DemandOut(BaseModel):
    at: str
    channel: str
    proof_kind: str
    reference: str
    signed_on: str | None


class CostOut(BaseModel):
    kind: str
    kind_label: str
    amount: int
    incurred_on: date
    stage: str
    created_by: str


class CaseDetailOut(BaseModel):
    case_id: int
    loan_id: int
    loan_ref: str
    stage: str
    debtor: str | None = Field(description="masked for the viewer's role")
    borrower_ref: str
    claim: int | None = Field(description="fen")
    claim_parts: list[tuple[str, int]]
    dpd: int | None
    as_of: date
    limitation_date: date | None
    days_left: int | None
    time_barred: bool
    costs_total: int
    demands: list[DemandOut]
    costs: list[CostOut]


def case_detail_out(found: CaseDetail, t: Translator) -> CaseDetailOut:
    claim = found.claim
    return CaseDetailOut(
        case_id=found.case.id,
        loan_id=found.case.loan_id,
        loan_ref=found.case.loan_ref,
        stage=found.case.stage.value,
        debtor=found.debtor,
        borrower_ref=found.borrower_ref,
        claim=None if claim is None else claim.total,
        claim_parts=[]
        if claim is None
        else [(zh if t.lang != "en" else en, fen) for _, zh, en, fen in claim.components()],
        dpd=found.dpd,
        as_of=found.as_of,
        limitation_date=found.limitation_date,
        days_left=found.days_left,
        time_barred=found.time_barred,
        costs_total=found.case.costs,
        demands=[
            DemandOut(
                at=d.at.isoformat(),
                channel=d.channel,
                proof_kind=d.proof_kind,
                reference=d.reference,
                signed_on=d.signed_on,
            )
            for d in found.demands
        ],
        costs=[
            CostOut(
                kind=c.kind.value,
                kind_label=c.kind.label_zh if t.lang != "en" else c.kind.value.replace("_", " "),
                amount=c.amount,
                incurred_on=c.incurred_on,
                stage=c.stage,
                created_by=c.created_by,
            )
            for c in found.costs
        ],
    )


def download_response(found: Download) -> Response:
    """The document, saved under its Chinese name (RFC 6266 / RFC 5987 ``filename*``) with
    the ASCII name as the fallback for clients that do not read ``filename*``."""
    kind = FILE_TYPES[found.name[found.name.rindex(".") :]]
    disposition = (
        f"attachment; filename=\"{found.name}\"; filename*=UTF-8''{quote(found.title, safe='')}"
    )
    return Response(
        found.content,
        media_type=kind,
        headers={"Content-Disposition": disposition, "Cache-Control": "no-store"},
    )
