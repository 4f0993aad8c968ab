"""The documents of a legal case by file name: the name in the URL and the CLI (ASCII,
``case-<id>-<suffix>``) and the Chinese name a download is saved under."""

from __future__ import annotations

from forbear.domain.errors import NotFound

LETTER = "demand-letter.pdf"
PACKAGE = "litigation-package.pdf"
# suffix -> Chinese title, in the order the case page lists them
TITLES_ZH: dict[str, str] = {
    LETTER: "催告函",
    PACKAGE: "诉讼材料",
    "parties.csv": "当事人",
    "contract.csv": "合同条款",
    "amounts.csv": "诉请金额",
    "findings.csv": "合同审查意见",
    "payments.csv": "还款记录",
    "demands.csv": "催告记录",
    "contacts.csv": "联系记录",
    "case_events.csv": "案件进程",
    "case_costs.csv": "案件费用",
}
SUFFIXES = tuple(TITLES_ZH)
# the files that carry the debtor's name, ID number and address (unmasked, audited)
WITH_PARTIES = frozenset({LETTER, PACKAGE, "parties.csv"})


def file_name(case_id: int, suffix: str) -> str:
    return f"case-{case_id}-{suffix}"


def suffix_of(case_id: int, name: str) -> str:
    """The suffix of one of the case's file names; :class:`NotFound` for any other name."""
    prefix = f"case-{case_id}-"
    suffix = name.removeprefix(prefix)
    if not name.startswith(prefix) or suffix not in TITLES_ZH:
        raise NotFound("document", name[:80])
    return suffix


def chinese_name(case_id: int, loan_ref: str, suffix: str) -> str:
    """``案件12-催告函-L000123.pdf``: what the download is saved as."""
    extension = suffix[suffix.rindex(".") :]
    return f"案件{case_id}-{TITLES_ZH[suffix]}-{loan_ref}{extension}"
