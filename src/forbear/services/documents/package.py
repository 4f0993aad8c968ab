"""The litigation package (诉讼材料): one PDF for the lawyer and the court file, and CSV
files of the same facts for the lawyer's own tools.

Contents: the parties (the creditor; the debtor with name, ID number and address in
clear, unmasked by the caller for the legal role and the purpose ``litigation``, audited),
the contract version and its key terms, the amounts claimed split into principal,
interest, penalty and fees, the contract check's findings (a ``legal_review`` finding,
CN.RATE.LICENSED, is boxed on the first page), the payment history, the demand history
(the evidence that restarted the limitation period, CN.LIMITATION), a summary of the
contact history and the case's stages and costs.

CSV files are UTF-8 with a byte-order mark, so spreadsheet programs open the Chinese
headers and values correctly, and their text cells are made spreadsheet-safe
(:mod:`forbear.domain.spreadsheet`): a name, address or note starting with ``=`` is shown
as text, never run as a formula.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import polars as pl

from forbear.domain.contracts import ClaimFinding, Severity
from forbear.domain.legal.amounts import ClaimAmounts
from forbear.domain.money import format_yuan
from forbear.domain.spreadsheet import safe_frame
from forbear.services.documents.pdf import Page


@dataclass(frozen=True)
class Party:
    role_zh: str
    role_en: str
    name: str
    national_id: str | None = None
    address: str | None = None
    mobile: str | None = None  # masked: the legal role may not unmask it
    reference: str | None = None


@dataclass(frozen=True)
class PackageData:
    case_id: int
    loan_ref: str
    as_of: date
    stage: str
    opened_on: date
    court: str | None
    case_number: str | None
    parties: list[Party]
    contract: list[tuple[str, str, str]]  # (label zh, label en, value)
    amounts: ClaimAmounts
    dpd: int
    limitation_date: date | None
    findings: list[ClaimFinding]
    payments: pl.DataFrame  # paid_on, amount (fen), channel
    demands: pl.DataFrame  # at (UTC), channel, evidence_ref
    contacts: pl.DataFrame  # channel, party, outcome, attempts, first_at, last_at
    events: pl.DataFrame  # stage, stage_on, court, case_number, notes, created_by
    costs: pl.DataFrame  # kind, amount (fen), incurred_on, stage


def _csv(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    safe_frame(frame).write_csv(buffer)
    return b"\xef\xbb\xbf" + buffer.getvalue()


def _yuan_column(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """Fen as yuan text ("1234.56") for the CSV files; exact, never through floats."""
    return frame.with_columns(
        pl.col(column).map_elements(format_yuan, return_dtype=pl.String).str.replace_all(",", "")
    )


def csv_files(data: PackageData) -> dict[str, bytes]:
    """The package's CSV files by name (without the case prefix)."""
    parties = pl.DataFrame(
        [
            {
                "role": p.role_en,
                "role_zh": p.role_zh,
                "name": p.name,
                "national_id": p.national_id,
                "address": p.address,
                "mobile": p.mobile,
                "reference": p.reference,
            }
            for p in data.parties
        ]
    )
    amounts = pl.DataFrame(
        {
            "component": [key for key, *_ in data.amounts.components()] + ["total"],
            "component_zh": [zh for _, zh, *_ in data.amounts.components()] + ["合计"],
            "amount_fen": [fen for *_, fen in data.amounts.components()] + [data.amounts.total],
        },
        schema={"component": pl.String, "component_zh": pl.String, "amount_fen": pl.Int64},
    ).with_columns(pl.col("amount_fen").alias("amount_yuan"))
    findings = pl.DataFrame(
        {
            "code": [f.code for f in data.findings],
            "severity": [f.severity.value for f in data.findings],
            "rule_id": [f.rule_id for f in data.findings],
            "message_zh": [f.message_zh for f in data.findings],
            "message_en": [f.message_en for f in data.findings],
        },
        schema={n: pl.String for n in ("code", "severity", "rule_id", "message_zh", "message_en")},
    )
    contract = pl.DataFrame(
        {
            "term_zh": [zh for zh, _, _ in data.contract],
            "term": [en for _, en, _ in data.contract],
            "value": [v for _, _, v in data.contract],
        },
        schema={"term_zh": pl.String, "term": pl.String, "value": pl.String},
    )
    return {
        "parties.csv": _csv(parties),
        "contract.csv": _csv(contract),
        "amounts.csv": _csv(_yuan_column(amounts, "amount_yuan")),
        "findings.csv": _csv(findings),
        "payments.csv": _csv(
            _yuan_column(
                data.payments.with_columns(pl.col("amount").alias("amount_yuan")), "amount_yuan"
            )
        ),
        "demands.csv": _csv(data.demands),
        "contacts.csv": _csv(data.contacts),
        "case_events.csv": _csv(data.events),
        "case_costs.csv": _csv(
            _yuan_column(
                data.costs.with_columns(pl.col("amount").alias("amount_yuan")), "amount_yuan"
            )
        ),
    }


def _text(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return str(value)


def render_package(data: PackageData) -> bytes:
    """The package as one PDF."""
    page = Page(
        title=f"诉讼材料 Litigation package: case {data.case_id}",
        created_at=datetime.combine(data.as_of, time(12), UTC),
    )
    page.title("诉讼材料 Litigation package")
    page.paragraph(
        f"案件 Case {data.case_id} · 借款 Loan {data.loan_ref} · 阶段 Stage {data.stage} · "
        f"立案日期 Opened {data.opened_on.isoformat()} · 截至 As of {data.as_of.isoformat()}",
        size=9.5,
    )
    if data.court or data.case_number:
        page.paragraph(
            f"法院 Court: {_text(data.court)} · 案号 Case number: {_text(data.case_number)}"
        )
    refused = [f for f in data.findings if f.severity is Severity.REFUSE]
    review = [f for f in data.findings if f.severity is Severity.LEGAL_REVIEW]
    for finding in review:
        page.notice(
            f"须法务审核 LEGAL REVIEW ({finding.rule_id}): {finding.message_zh}\n"
            f"{finding.message_en}"
        )
    for finding in refused:
        page.notice(
            f"不得主张 REFUSED ({finding.rule_id}): {finding.message_zh}\n{finding.message_en}"
        )

    page.heading("一、当事人 Parties")
    page.table(
        ["身份 Role", "名称 Name", "证件号码 ID", "地址 Address", "手机 Mobile"],
        [
            [
                f"{p.role_zh} {p.role_en}",
                p.name,
                _text(p.national_id),
                _text(p.address),
                _text(p.mobile),
            ]
            for p in data.parties
        ],
        widths=(26, 28, 36, 54, 26),
    )
    page.heading("二、合同 Contract")
    page.table(
        ["条款 Term", "内容 Value"],
        [[f"{zh} {en}", value] for zh, en, value in data.contract],
        widths=(70, 100),
    )
    page.heading("三、主张金额 Amounts claimed")
    page.paragraph(
        f"逾期天数 Days past due: {data.dpd}; 已到期本金 Principal already due: "
        f"{format_yuan(data.amounts.overdue_principal)}; 诉讼时效届满日 Limitation date: "
        f"{_text(data.limitation_date)}"
    )
    rows = [[f"{zh} {en}", format_yuan(fen)] for _, zh, en, fen in data.amounts.components()]
    rows.append(["合计 Total", format_yuan(data.amounts.total)])
    page.table(["项目 Item", "金额 Amount (yuan)"], rows, widths=(100, 70), align=("LEFT", "RIGHT"))

    page.heading("四、还款记录 Payment history")
    if data.payments.height:
        page.table(
            ["日期 Date", "金额 Amount (yuan)", "渠道 Channel"],
            [
                [_text(r["paid_on"]), format_yuan(int(r["amount"])), _text(r["channel"])]
                for r in data.payments.iter_rows(named=True)
            ],
            widths=(50, 60, 60),
            align=("LEFT", "RIGHT", "LEFT"),
        )
        page.paragraph(f"合计 Total paid: {format_yuan(int(data.payments['amount'].sum()))}")
    else:
        page.paragraph("无还款记录 No payments recorded.")

    page.heading("五、催告记录 Demand history (CN.LIMITATION evidence)")
    if data.demands.height:
        page.table(
            ["时间 Time", "渠道 Channel", "凭证 Evidence"],
            [
                [_text(r["at"]), _text(r["channel"]), _text(r["evidence_ref"])]
                for r in data.demands.iter_rows(named=True)
            ],
            widths=(50, 30, 90),
        )
    else:
        page.paragraph("无催告记录 No demands logged.")

    page.heading("六、联系记录摘要 Contact history summary")
    if data.contacts.height:
        page.table(
            [
                "渠道 Channel",
                "对象 Party",
                "结果 Outcome",
                "次数 Attempts",
                "首次 First",
                "最近 Last",
            ],
            [
                [
                    _text(r["channel"]),
                    _text(r["party"]),
                    _text(r["outcome"]),
                    str(r["attempts"]),
                    _text(r["first_at"]),
                    _text(r["last_at"]),
                ]
                for r in data.contacts.iter_rows(named=True)
            ],
            widths=(22, 28, 26, 18, 38, 38),
        )
    else:
        page.paragraph("无联系记录 No contacts recorded.")

    page.heading("七、案件进程与费用 Case stages and costs")
    page.table(
        ["阶段 Stage", "日期 Date", "法院 Court", "案号 Case number", "备注 Notes"],
        [
            [
                _text(r["stage"]),
                _text(r["stage_on"]),
                _text(r["court"]),
                _text(r["case_number"]),
                _text(r["notes"]),
            ]
            for r in data.events.iter_rows(named=True)
        ],
        widths=(28, 26, 40, 36, 40),
    )
    if data.costs.height:
        page.table(
            ["费用 Cost", "金额 Amount (yuan)", "日期 Date", "阶段 Stage"],
            [
                [
                    _text(r["kind"]),
                    format_yuan(int(r["amount"])),
                    _text(r["incurred_on"]),
                    _text(r["stage"]),
                ]
                for r in data.costs.iter_rows(named=True)
            ],
            widths=(50, 40, 40, 40),
            align=("LEFT", "RIGHT", "LEFT", "LEFT"),
        )
        page.paragraph(f"费用合计 Total costs: {format_yuan(int(data.costs['amount'].sum()))}")
    page.paragraph(
        "本材料含个人信息，仅限诉讼用途，按法务权限查看与保管。 Contains personal data: for "
        "litigation only; keep under the legal team's access controls.",
        size=8.5,
    )
    return page.output()
