"""The documents of a legal case: gather the facts, check the claim, unmask what the legal
role may see, render, record.

:func:`case_documents` is the use case behind ``forbear legal documents``. In order:

1. the role must hold ``legal.manage``; the case must be open;
2. the amounts come from the ledger state of ``as_of`` and are checked against the
   loan's contract (:func:`forbear.domain.contracts.check_claim`): a ``refuse`` finding
   stops here (:class:`ClaimRefused`, nothing recorded); ``legal_review`` findings go in
   the package, boxed on its first page, and back to the caller to show;
3. the debtor's name, ID number and address are unmasked for the purpose
   ``litigation`` (:func:`forbear.services.privacy.reveal`: each field an audit event);
4. the letter (content-filtered) and the package are rendered; each document is
   recorded in ``legal_documents`` with the sha256 of its files and audited as
   ``legal.documents`` (file names, hashes, finding codes: no personal data).

The caller writes the files in the same transaction, so a file that cannot be written
leaves no record behind.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import polars as pl
from sqlalchemy import Connection, func, insert, select

from forbear.domain.access import PiiField, Purpose, mask_for
from forbear.domain.contracts import ClaimFinding, ContractTerms, Severity
from forbear.domain.errors import Conflict, ForbearError, NotFound
from forbear.domain.legal.amounts import ClaimAmounts, from_state
from forbear.domain.legal.limitation import limitation_date
from forbear.domain.money import format_yuan
from forbear.services.contracts import check_loan_claim, contract_for
from forbear.services.documents.cache import RENDERED
from forbear.services.documents.letter import LetterData, render_letter
from forbear.services.documents.names import LETTER, PACKAGE, SUFFIXES, WITH_PARTIES, file_name
from forbear.services.documents.package import PackageData, Party, csv_files, render_package
from forbear.services.legal import config_in_force, get_case, legal_accounts, require_permission
from forbear.services.legal.common import stamp
from forbear.services.privacy import reveal
from forbear.services.situation import limitation_years
from forbear.store import audit
from forbear.store.contacts import ContactAttempt, Demand, read_flags
from forbear.store.crypto import Contexts, PiiVault
from forbear.store.legal import (
    DocumentKind,
    LegalCaseCost,
    LegalCaseEvent,
    LegalDocument,
    read_state,
)
from forbear.store.models import Borrower, Loan, Payment


class ClaimRefused(ForbearError):
    """The amounts claimed break the contract: no document may claim them."""

    def __init__(self, case_id: int, findings: Sequence[ClaimFinding]) -> None:
        shown = "; ".join(f"{f.code} ({f.rule_id}): {f.message_en}" for f in findings)
        super().__init__(f"case {case_id}: the claim is refused against the contract: {shown}")
        self.findings = list(findings)


@dataclass(frozen=True)
class CaseDocuments:
    files: dict[str, bytes]  # file name -> content
    findings: list[ClaimFinding]  # legal-review findings (refusals never get this far)
    amounts: ClaimAmounts
    letter_no: str
    limitation_date: date | None


def case_documents(
    conn: Connection,
    vault: PiiVault,
    case_id: int,
    *,
    role: str,
    actor: str,
    as_of: date,
    now: datetime | None = None,
    only: str | None = None,
) -> CaseDocuments:
    """The demand letter (PDF) and the litigation package (PDF and CSV files) of a case
    (recorded at ``now``, the caller's clock; without one the store stamps the record),
    or only the file ``only`` (a suffix of :data:`.names.SUFFIXES`): a download makes just
    the file asked for, and a PDF already made for the same facts is served again from
    :data:`RENDERED` (rendering one PDF with its embedded CJK font costs seconds)."""
    require_permission(role)
    if only is not None and only not in SUFFIXES:
        raise NotFound("document", only[:80])
    case = get_case(conn, case_id)
    if case.stage.is_final:
        raise Conflict(f"case {case_id} has ended ({case.stage.value}): no new documents")
    loan = conn.execute(
        select(
            Loan.id,
            Loan.external_ref,
            Loan.borrower_id,
            Loan.principal,
            Loan.term_months,
            Loan.annual_rate_bp,
            Loan.start_date,
            Borrower.external_ref.label("borrower_ref"),
            Borrower.mobile_enc,
        )
        .join(Borrower, Borrower.id == Loan.borrower_id)
        .where(Loan.id == case.loan_id)
    ).one()
    state = read_state(conn, as_of, case.loan_id)
    if state.height == 0:
        accounts = legal_accounts(conn, as_of, loan_id=case.loan_id)  # computes the snapshot
        state = read_state(conn, as_of, case.loan_id)
        if state.height == 0 or accounts.height == 0:
            raise NotFound("account state", f"loan {case.loan_ref} on {as_of.isoformat()}")
    state_row = state.row(0, named=True)
    amounts = from_state(state_row)
    terms = contract_for(conn, case.loan_id)
    contract_label = f"{terms.product_code} v{terms.version} ({terms.effective_from})"
    # The rates the ledger charged: the loan's own interest rate, its contract's penalty.
    claim = amounts.claim(
        interest_rate_bp=int(loan.annual_rate_bp), penalty_rate_bp=terms.penalty_rate_bp
    )
    findings = check_loan_claim(conn, case.loan_id, claim, owed=claim)
    refused = [f for f in findings if f.severity is Severity.REFUSE]
    if refused:
        raise ClaimRefused(case_id, refused)
    review = [f for f in findings if f.severity is Severity.LEGAL_REVIEW]

    at = datetime.combine(as_of, time(23, 59, 59), UTC)
    flags = read_flags(conn, at=at, borrower_id=int(loan.borrower_id)).filter(
        pl.col("loan_id") == case.loan_id
    )
    flag = flags.row(0, named=True) if flags.height else {}
    limit = limitation_date(
        flag.get("last_due_date"), flag.get("last_demand_at"), limitation_years()
    )
    time_barred = limit is not None and limit < as_of

    def clear(field: PiiField) -> str | None:
        try:
            return reveal(
                conn,
                vault,
                actor=actor,
                role=role,
                borrower_id=int(loan.borrower_id),
                field=field,
                purpose=Purpose.LITIGATION,
            )
        except NotFound:  # never given, or erased by retention
            return None

    wanted = SUFFIXES if only is None else (only,)
    parties_needed = any(suffix in WITH_PARTIES for suffix in wanted)
    # the debtor's name, ID number and address are unmasked (and audited) only for a file
    # that carries them
    name = (clear(PiiField.NAME) or "-") if parties_needed else "-"
    # the letter names and addresses the debtor; the ID number is in the package only
    national_id = clear(PiiField.NATIONAL_ID) if (set(wanted) - {LETTER}) & WITH_PARTIES else None
    address = clear(PiiField.ADDRESS) if parties_needed else None
    mobile = (
        vault.decrypt_optional(loan.mobile_enc, context=Contexts.BORROWER_MOBILE)
        if parties_needed
        else None
    )
    settings = config_in_force(conn).letter

    # letters issued so far: a letter served again (the same file) keeps its number
    prior_letters = conn.execute(
        select(func.count(func.distinct(LegalDocument.files))).where(
            LegalDocument.case_id == case_id,
            LegalDocument.kind == DocumentKind.DEMAND_LETTER.value,
        )
    ).scalar_one()
    letter_data = LetterData(
        letter_no=f"LC-{as_of.year}-{case_id:06d}-{int(prior_letters) + 1}",
        letter_date=as_of,
        as_of=as_of,
        borrower_name=name,
        borrower_address=address,
        loan_ref=case.loan_ref,
        contract_date=loan.start_date,
        original_principal=int(loan.principal),
        dpd=int(state_row["dpd"]),
        deadline=as_of + timedelta(days=settings.reply_days),
        amounts=amounts,
        settings=settings,
        time_barred=time_barred,
    )
    package = PackageData(
        case_id=case_id,
        loan_ref=case.loan_ref,
        as_of=as_of,
        stage=case.stage.value,
        opened_on=case.opened_on,
        court=case.court,
        case_number=case.case_number,
        parties=[
            Party("债权人", "Creditor", settings.creditor_zh, reference=settings.creditor_en),
            Party(
                "债务人",
                "Debtor",
                name,
                national_id=national_id,
                address=address,
                mobile=None if mobile is None else mask_for(role, PiiField.MOBILE, mobile),
                reference=str(loan.borrower_ref),
            ),
        ],
        contract=_contract_lines(terms, contract_label, loan),
        amounts=amounts,
        dpd=int(state_row["dpd"]),
        limitation_date=limit,
        findings=review,
        payments=_payments(conn, case.loan_id, as_of),
        demands=_demands(conn, case.loan_id, at),
        contacts=_contacts(conn, case.loan_id, at),
        events=_events(conn, vault, case_id),
        costs=_costs(conn, case_id),
    )
    tables = csv_files(package)
    letter_no = letter_data.letter_no
    rendered: dict[str, bytes] = {}  # newly made: recorded in legal_documents
    files: dict[str, bytes] = {}
    if LETTER in wanted:
        # the same letter (number included) for the same facts: no new number per download
        key = ("letter", case_id, _fingerprint(repr(replace(letter_data, letter_no=""))))
        cached = RENDERED.get(key)
        if cached is None:
            cached = (letter_no, render_letter(letter_data))
            RENDERED.put(key, cached)
            rendered[file_name(case_id, LETTER)] = cached[1]
        letter_no = cached[0]
        files[file_name(case_id, LETTER)] = cached[1]
    if PACKAGE in wanted:
        key = ("package", case_id, _package_fingerprint(package, tables))
        found = RENDERED.get(key)
        if found is None:
            found = ("", render_package(package))
            RENDERED.put(key, found)
            rendered[file_name(case_id, PACKAGE)] = found[1]
        files[file_name(case_id, PACKAGE)] = found[1]
    for suffix, content in tables.items():
        if suffix in wanted:
            files[file_name(case_id, suffix)] = content
            rendered[file_name(case_id, suffix)] = content
    digests = {name_: hashlib.sha256(content).hexdigest() for name_, content in files.items()}
    # every file handed out is recorded with its hash, made now or served again
    made = digests
    letter_files = {k: v for k, v in made.items() if k.endswith(LETTER)}
    package_files = {k: v for k, v in made.items() if k not in letter_files}
    codes = [f.code for f in review]
    for kind, these in (
        (DocumentKind.DEMAND_LETTER, letter_files),
        (DocumentKind.LITIGATION_PACKAGE, package_files),
    ):
        if not these:
            continue
        conn.execute(
            insert(LegalDocument).values(
                case_id=case_id,
                kind=kind.value,
                as_of=as_of,
                files=json.dumps(these, sort_keys=True),
                findings=json.dumps(codes),
                created_by=actor,
                **stamp(now),
            )
        )
    audit.record(
        conn,
        action="legal.documents",
        actor=actor,
        subject_type="legal_case",
        subject_id=case_id,
        payload={
            "as_of": as_of.isoformat(),
            "files": digests,
            "reused": sorted(set(files) - set(rendered)),
            "findings": codes,
            "role": role,
        },
        at=now,
    )
    return CaseDocuments(files, review, amounts, letter_no, limit)


def _fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _package_fingerprint(package: PackageData, tables: dict[str, bytes]) -> str:
    """The package's facts: its header and every table it prints (the CSV files)."""
    head = (
        package.as_of,
        package.stage,
        package.opened_on,
        package.court,
        package.case_number,
        package.dpd,
        package.limitation_date,
        package.parties,
    )
    digest = hashlib.sha256(repr(head).encode())
    for name_ in sorted(tables):
        digest.update(name_.encode() + b"\0" + tables[name_])
    return digest.hexdigest()


def _contract_lines(terms: ContractTerms, label: str, loan: Any) -> list[tuple[str, str, str]]:
    def pct(bp: int) -> str:
        return f"{bp / 100:.2f}%"

    return [
        ("合同版本", "Contract version", label),
        ("借款编号", "Loan reference", str(loan.external_ref)),
        ("放款日", "Start date", str(loan.start_date)),
        ("借款本金", "Principal (yuan)", format_yuan(int(loan.principal))),
        ("期限（月）", "Term (months)", str(loan.term_months)),
        ("年利率", "Annual rate", pct(int(loan.annual_rate_bp))),
        ("罚息年利率", "Penalty rate", pct(terms.penalty_rate_bp)),
        ("宽限期（天）", "Grace days", str(terms.grace_days)),
        ("月服务费", "Monthly fee", pct(terms.monthly_fee_bp)),
        ("滞纳金（元/期）", "Late fee per instalment (yuan)", format_yuan(terms.late_fee)),
        ("争议管辖", "Dispute venue", terms.dispute_venue),
    ]


def _payments(conn: Connection, loan_id: int, as_of: date) -> pl.DataFrame:
    rows = conn.execute(
        select(Payment.paid_on, Payment.amount, Payment.channel)
        .where(Payment.loan_id == loan_id, Payment.paid_on <= as_of)
        .order_by(Payment.paid_on, Payment.id)
    ).all()
    return pl.DataFrame(
        [tuple(r) for r in rows],
        schema={"paid_on": pl.Date, "amount": pl.Int64, "channel": pl.String},
        orient="row",
    )


def _demands(conn: Connection, loan_id: int, at: datetime) -> pl.DataFrame:
    rows = conn.execute(
        select(Demand.at, Demand.channel, Demand.evidence_ref, Demand.created_by)
        .where(Demand.loan_id == loan_id, Demand.at <= at)
        .order_by(Demand.at, Demand.id)
    ).all()
    return pl.DataFrame(
        [tuple(r) for r in rows],
        schema={
            "at": pl.Datetime("us", "UTC"),
            "channel": pl.String,
            "evidence_ref": pl.String,
            "logged_by": pl.String,
        },
        orient="row",
    )


def _contacts(conn: Connection, loan_id: int, at: datetime) -> pl.DataFrame:
    a = ContactAttempt
    rows = conn.execute(
        select(
            a.channel,
            a.party,
            a.outcome,
            func.count(),
            func.min(a.at),
            func.max(a.at),
        )
        .where(a.loan_id == loan_id, a.allowed.is_(True), a.at <= at)
        .group_by(a.channel, a.party, a.outcome)
        .order_by(a.channel, a.party, a.outcome)
    ).all()
    return pl.DataFrame(
        [tuple(r) for r in rows],
        schema={
            "channel": pl.String,
            "party": pl.String,
            "outcome": pl.String,
            "attempts": pl.Int64,
            "first_at": pl.Datetime("us", "UTC"),
            "last_at": pl.Datetime("us", "UTC"),
        },
        orient="row",
    ).with_columns(pl.col("outcome").fill_null("pending"))


def _events(conn: Connection, vault: PiiVault, case_id: int) -> pl.DataFrame:
    e = LegalCaseEvent
    rows = conn.execute(
        select(e.stage, e.stage_on, e.court, e.case_number, e.notes_enc, e.created_by)
        .where(e.case_id == case_id)
        .order_by(e.id)
    ).all()
    return pl.DataFrame(
        [
            (
                *r[:4],
                vault.decrypt_optional(r[4], context=Contexts.LEGAL_EVENT_NOTES),
                r[5],
            )
            for r in rows
        ],
        schema={
            "stage": pl.String,
            "stage_on": pl.Date,
            "court": pl.String,
            "case_number": pl.String,
            "notes": pl.String,
            "created_by": pl.String,
        },
        orient="row",
    )


def _costs(conn: Connection, case_id: int) -> pl.DataFrame:
    k = LegalCaseCost
    rows = conn.execute(
        select(k.kind, k.amount, k.incurred_on, k.stage).where(k.case_id == case_id).order_by(k.id)
    ).all()
    return pl.DataFrame(
        [tuple(r) for r in rows],
        schema={"kind": pl.String, "amount": pl.Int64, "incurred_on": pl.Date, "stage": pl.String},
        orient="row",
    )
