"""Proof of delivery of a demand (CN.LIMITATION; 民法典 arts. 188, 195).

A demand restarts the limitation period only if the lender can prove it reached the
debtor, so a demand letter is logged (and the case moves to ``demand_letter``,
"已发催告函") only with one of:

- a **tracking number** of the registered post or courier item that carried it
  (EMS and the other carriers' waybill numbers): either the UPU S10 form of
  international and EMS items (two letters, eight digits, a check digit, two letters:
  ``EA123456785CN``), whose check digit is verified, or a domestic waybill number (up to
  four letters of the carrier's prefix, then 10 to 20 digits: ``SF1234567890123``,
  ``1100123456789``);
- a **signed receipt** (签收回执): the reference under which the signed receipt is kept
  (4 to 64 letters, digits, ``-``, ``_``, ``/``, at least one digit) and the day it was
  signed, which is neither before the letter was sent nor after today.

The proof is stored as one string (:attr:`DeliveryProof.evidence_ref`:
``tracking:EA123456785CN`` or ``receipt:SR-2026-0042;signed=2026-12-05``) on the demand.
Refusals are :class:`ProofRefused` (a :class:`ValidationError` naming the form field) with
a catalogue ``key`` so that a page can say why beside the field in its reader's language.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from forbear.domain.legal.refusals import LegalRefused


class ProofKind(StrEnum):
    TRACKING = "tracking"  # 快递 / 挂号信单号
    RECEIPT = "receipt"  # 签收回执


class ProofRefused(LegalRefused):
    """A proof of delivery that is missing or malformed (keys ``legal.proof.*``)."""


@dataclass(frozen=True, slots=True)
class DeliveryProof:
    kind: ProofKind
    reference: str  # normalised
    signed_on: date | None = None  # receipts only

    @property
    def evidence_ref(self) -> str:
        if self.kind is ProofKind.RECEIPT:
            assert self.signed_on is not None
            return f"receipt:{self.reference};signed={self.signed_on.isoformat()}"
        return f"tracking:{self.reference}"


_S10 = re.compile(r"^([A-Z]{2})(\d{8})(\d)([A-Z]{2})$")
_DOMESTIC = re.compile(r"^[A-Z]{0,4}\d{10,20}$")
_RECEIPT = re.compile(r"^[A-Za-z0-9\-_/]{4,64}$")
_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)


def s10_check_digit(serial: str) -> int:
    """The check digit of an eight-digit UPU S10 serial number (UPU standard S10)."""
    if len(serial) != 8 or not serial.isdigit():
        raise ValueError("an S10 serial is eight digits")
    total = sum(int(d) * w for d, w in zip(serial, _WEIGHTS, strict=True))
    check = 11 - total % 11
    return 5 if check == 11 else 0 if check == 10 else check


def _normalise(text: str) -> str:
    # full-width letters and digits typed on a Chinese keyboard count as their ASCII forms
    cleaned = unicodedata.normalize("NFKC", text or "")
    return re.sub(r"[\s\-]", "", cleaned).upper()


def tracking_number(text: str) -> str:
    """The normalised tracking number, or :class:`ProofRefused` saying what is wrong."""
    number = _normalise(text)
    if not number:
        raise ProofRefused(
            "tracking_number", "a tracking number is needed", "legal.proof.tracking_missing"
        )
    s10 = _S10.match(number)
    if s10 is not None:
        if s10_check_digit(s10.group(2)) != int(s10.group(3)):
            raise ProofRefused(
                "tracking_number",
                f"{number}: the check digit of this postal item number is wrong",
                "legal.proof.tracking_check",
                number=number,
            )
        return number
    if _DOMESTIC.match(number) is None:
        raise ProofRefused(
            "tracking_number",
            f"{number!r} is not a tracking number (a postal item number such as "
            "EA123456785CN, or a waybill number: up to 4 letters then 10-20 digits)",
            "legal.proof.tracking_format",
            number=number[:40],
        )
    return number


def delivery_proof(
    kind: str | None,
    reference: str | None,
    *,
    signed_on: date | None,
    sent_on: date,
    today: date,
) -> DeliveryProof:
    """Check a proof of delivery of a demand sent on ``sent_on``; refused with the field."""
    if not kind:
        raise ProofRefused(
            "proof_kind",
            "a demand needs proof of delivery: a tracking number or a signed receipt",
            "legal.proof.missing",
        )
    try:
        chosen = ProofKind(kind)
    except ValueError:
        raise ProofRefused(
            "proof_kind",
            f"unknown kind of proof {kind!r} (tracking or receipt)",
            "legal.proof.kind",
        ) from None
    if chosen is ProofKind.TRACKING:
        return DeliveryProof(chosen, tracking_number(reference or ""))
    receipt = unicodedata.normalize("NFKC", reference or "").strip()
    if not receipt:
        raise ProofRefused(
            "receipt_ref", "the signed receipt's reference is needed", "legal.proof.receipt_missing"
        )
    if _RECEIPT.match(receipt) is None or not any(c.isdigit() for c in receipt):
        raise ProofRefused(
            "receipt_ref",
            "a receipt reference is 4-64 letters, digits, -, _ or /, with at least one digit",
            "legal.proof.receipt_format",
        )
    if signed_on is None:
        raise ProofRefused(
            "signed_on", "the day the receipt was signed is needed", "legal.proof.signed_missing"
        )
    if signed_on > today:
        raise ProofRefused(
            "signed_on",
            f"{signed_on.isoformat()} is in the future",
            "legal.proof.signed_future",
            day=signed_on.isoformat(),
        )
    if signed_on < sent_on:
        raise ProofRefused(
            "signed_on",
            f"the receipt is signed {signed_on.isoformat()}, before the demand was sent "
            f"({sent_on.isoformat()})",
            "legal.proof.signed_early",
            day=signed_on.isoformat(),
            sent=sent_on.isoformat(),
        )
    return DeliveryProof(chosen, receipt, signed_on)


def from_evidence_ref(text: str, *, sent_on: date, today: date) -> DeliveryProof:
    """A proof given as one string (the API's and the CLI's ``evidence_ref``):
    ``receipt:REF;signed=YYYY-MM-DD`` or ``tracking:NUMBER``; a bare string is a tracking
    number."""
    raw = (text or "").strip()
    kind, sep, rest = raw.partition(":")
    if sep and kind.strip().lower() == ProofKind.RECEIPT.value:
        ref, _, signed = rest.partition(";")
        day: date | None = None
        signed = signed.strip()
        if signed:
            value = signed.removeprefix("signed=")
            try:
                day = date.fromisoformat(value)
            except ValueError:
                raise ProofRefused(
                    "signed_on", f"{value!r} is not a date", "legal.proof.signed_missing"
                ) from None
        return delivery_proof("receipt", ref, signed_on=day, sent_on=sent_on, today=today)
    if sep and kind.strip().lower() == ProofKind.TRACKING.value:
        raw = rest
    return delivery_proof(
        "tracking" if raw else None, raw, signed_on=None, sent_on=sent_on, today=today
    )
