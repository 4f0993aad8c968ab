"""The demand letter (催告函): Chinese first, then an English version, as one PDF.

The wording is data (``letter_templates.yaml``). Before anything is rendered, every
template paragraph passes the content filter with sample values (a wording problem is
reported at its place in the template), and the filled letter passes it again (a value
can make clean wording say something forbidden). Either refusal raises
:class:`ContentRejected` with the rule ids and spans, and no PDF is made. The
addressee lines (the debtor's own name and address) are data, not wording, and are not
checked. When the limitation period has run, the filter's time-barred rules apply
(CN.LIMITATION): a letter may then not mention suit at all.

The letter states the creditor, the amounts by component, how to pay, how to ask for a
plan, how to dispute, and the regulator's complaint hotline 12378; it threatens nothing
and claims no authority (REGULATIONS.md CN.LANG.PROHIBITED, CN.COMPLAINT.SLA).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import cache
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticError

from forbear.domain.compliance.content import (
    CheckContext,
    ContentRejected,
    Lang,
    Violation,
    check_template,
    check_text,
    fill,
)
from forbear.domain.errors import ConfigurationError
from forbear.domain.legal.amounts import ClaimAmounts
from forbear.domain.legal.config import LetterSettings
from forbear.domain.money import format_yuan
from forbear.services.documents.pdf import Page

TEMPLATES_RESOURCE = "letter_templates.yaml"


class LetterTemplate(BaseModel):
    """One language's wording of the letter."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=1)
    reference: str
    addressee: tuple[str, ...]
    amounts: str
    table_header: tuple[str, str]
    total_label: str
    body: tuple[str, ...] = Field(min_length=1)
    signature: tuple[str, ...]
    note: str | None = None

    def wording(self) -> list[str]:
        """Every text the filter checks (the addressee lines are data, see module doc)."""
        return [
            self.title,
            self.reference,
            self.amounts,
            *self.table_header,
            self.total_label,
            *self.body,
            *self.signature,
            *([self.note] if self.note else []),
        ]


class LetterTemplates(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    zh: LetterTemplate
    en: LetterTemplate

    def by_lang(self) -> dict[Lang, LetterTemplate]:
        return {"zh": self.zh, "en": self.en}


def parse_templates(text: str, *, source: str = TEMPLATES_RESOURCE) -> LetterTemplates:
    try:
        return LetterTemplates.model_validate(yaml.safe_load(text))
    except (yaml.YAMLError, PydanticError) as exc:
        raise ConfigurationError(f"{source}: invalid letter templates: {exc}") from None


@cache
def default_templates() -> LetterTemplates:
    text = (
        resources.files("forbear.services.documents")
        .joinpath(TEMPLATES_RESOURCE)
        .read_text(encoding="utf-8")
    )
    return parse_templates(text)


@dataclass(frozen=True)
class LetterData:
    """What one letter says. ``borrower_name`` and ``borrower_address`` are in clear: the
    caller unmasked them for the legal role, with an audit event."""

    letter_no: str
    letter_date: date
    as_of: date
    borrower_name: str
    borrower_address: str | None
    loan_ref: str
    contract_date: date
    original_principal: int
    dpd: int
    deadline: date
    amounts: ClaimAmounts
    settings: LetterSettings
    time_barred: bool = False


def _date(day: date, lang: Lang) -> str:
    if lang == "zh":
        return f"{day.year}年{day.month}月{day.day}日"
    return day.strftime("%d %B %Y").lstrip("0")


def values(data: LetterData, lang: Lang) -> dict[str, str]:
    s = data.settings
    return {
        "borrower_name": data.borrower_name,
        "borrower_address": data.borrower_address or ("（未登记）" if lang == "zh" else "(none)"),
        "creditor": s.creditor_zh if lang == "zh" else s.creditor_en,
        "contract_date": _date(data.contract_date, lang),
        "loan_ref": data.loan_ref,
        "original_principal": format_yuan(data.original_principal),
        "as_of": _date(data.as_of, lang),
        "dpd": str(data.dpd),
        "deadline": _date(data.deadline, lang),
        "payment": s.payment_zh if lang == "zh" else s.payment_en,
        "hotline": s.hotline,
        "dispute_days": str(s.dispute_days),
        "letter_no": data.letter_no,
        "letter_date": _date(data.letter_date, lang),
    }


def check_wording(
    templates: LetterTemplates,
    settings: LetterSettings,
    *,
    time_barred: bool = False,
) -> dict[Lang, list[Violation]]:
    """The template's violations per language, checked with the lender's own settings as
    sample values (its creditor name, payment text and hotline are wording too)."""
    context = CheckContext(time_barred=time_barred)
    found: dict[Lang, list[Violation]] = {}
    for lang, template in templates.by_lang().items():
        samples = {
            "creditor": settings.creditor_zh if lang == "zh" else settings.creditor_en,
            "payment": settings.payment_zh if lang == "zh" else settings.payment_en,
            "hotline": settings.hotline,
            "dispute_days": str(settings.dispute_days),
        }
        violations = [
            v
            for text in template.wording()
            for v in check_template(text, samples, lang=lang, context=context)
        ]
        if violations:
            found[lang] = violations
    return found


def compose(data: LetterData, templates: LetterTemplates) -> dict[Lang, dict[str, list[str]]]:
    """The filled texts per language and part (``addressee``, ``head``, ``body``, ...)."""
    out: dict[Lang, dict[str, list[str]]] = {}
    for lang, t in templates.by_lang().items():
        v = values(data, lang)

        def filled(text: str, v: Mapping[str, str] = v) -> str:
            return fill(text, v).text

        out[lang] = {
            "title": [filled(t.title)],
            "reference": [filled(t.reference)],
            "addressee": [filled(line) for line in t.addressee],
            "amounts": [filled(t.amounts)],
            "body": [filled(text) for text in t.body],
            "signature": [filled(line) for line in t.signature],
            "note": [filled(t.note)] if t.note else [],
        }
    return out


def render_letter(data: LetterData, templates: LetterTemplates | None = None) -> bytes:
    """The letter as PDF bytes: Chinese on the first page, the English version after it.

    Raises :class:`ContentRejected` (nothing rendered) when the wording or the filled
    letter fails the content filter.
    """
    chosen = templates or default_templates()
    problems = check_wording(chosen, data.settings, time_barred=data.time_barred)
    for lang, violations in problems.items():
        raise ContentRejected(f"demand letter template ({lang})", violations)
    texts = compose(data, chosen)
    context = CheckContext(time_barred=data.time_barred)
    for lang, parts in texts.items():
        wording = "\n".join(
            line for part, lines in parts.items() if part != "addressee" for line in lines
        )
        violations = check_text(wording, lang=lang, context=context)
        if violations:
            raise ContentRejected(f"demand letter ({lang})", violations)
    page = Page(
        title=f"{texts['zh']['title'][0]} {data.letter_no}",
        created_at=datetime.combine(data.letter_date, time(12), UTC),
    )
    for index, (lang, parts) in enumerate(texts.items()):
        t = chosen.by_lang()[lang]
        if index:
            page.new_page()
        page.title(parts["title"][0])
        page.paragraph(parts["reference"][0], align="R", size=9.5)
        for line in parts["addressee"]:
            page.paragraph(line)
        page.paragraph(parts["amounts"][0])
        rows = [
            [zh if lang == "zh" else en, format_yuan(fen)]
            for _key, zh, en, fen in data.amounts.components()
        ]
        rows.append([t.total_label, format_yuan(data.amounts.total)])
        page.table(list(t.table_header), rows, widths=(60, 40), align=("LEFT", "RIGHT"))
        for text in parts["body"]:
            page.paragraph(text)
        page.paragraph("")
        for line in parts["signature"]:
            page.paragraph(line, align="R")
        for note in parts["note"]:
            page.paragraph(note, size=8.5)
    return page.output()
