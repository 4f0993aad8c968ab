"""The demand letter: what it says, that the content filter guards it, and that its
Chinese actually renders (page 1 drawn to pixels with PDFium, glyph by glyph)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pypdfium2 as pdfium
import pytest

from forbear.domain.compliance.content import ContentRejected
from forbear.domain.legal.amounts import ClaimAmounts
from forbear.domain.legal.config import default_config
from forbear.services.documents.letter import (
    LetterData,
    LetterTemplates,
    default_templates,
    render_letter,
)

SCALE = 3  # 216 dpi


def letter(**overrides: object) -> LetterData:
    fields: dict[str, object] = {
        "letter_no": "LC-2026-000007-1",
        "letter_date": date(2026, 11, 28),
        "as_of": date(2026, 11, 27),
        "borrower_name": "张伟",
        "borrower_address": "河南省郑州市金水区花园路1号",
        "loan_ref": "L0001",
        "contract_date": date(2025, 1, 15),
        "original_principal": 1_200_000,
        "dpd": 132,
        "deadline": date(2026, 12, 13),
        "amounts": ClaimAmounts(
            principal=800_000, overdue_principal=300_000, interest=45_000, penalty=12_345, fees=0
        ),
        "settings": default_config().letter,
    }
    fields.update(overrides)
    return LetterData(**fields)  # type: ignore[arg-type]


def page_text(pdf: bytes, index: int) -> str:
    doc = pdfium.PdfDocument(pdf)
    return str(doc[index].get_textpage().get_text_range())


def glyph_crops(pdf: bytes, wanted: str) -> list[np.ndarray]:
    """Page 1 rendered to grey pixels; the crop of each character of ``wanted`` (first
    occurrence on the page), located by the PDF's own character boxes."""
    doc = pdfium.PdfDocument(pdf)
    page = doc[0]
    text_page = page.get_textpage()
    text = text_page.get_text_range()
    start = text.index(wanted)
    image = np.asarray(page.render(scale=SCALE, grayscale=True).to_pil().convert("L"))
    height = page.get_height()
    crops = []
    for offset in range(len(wanted)):
        left, bottom, right, top = text_page.get_charbox(start + offset)
        box = image[
            int((height - top) * SCALE) : int((height - bottom) * SCALE) + 1,
            int(left * SCALE) : int(right * SCALE) + 1,
        ]
        crops.append(box)
    return crops


def test_the_letter_states_creditor_amounts_payment_plan_dispute_and_12378() -> None:
    pdf = render_letter(letter())
    assert pdf.startswith(b"%PDF")
    assert len(pdfium.PdfDocument(pdf)) == 2  # Chinese, then the English version
    zh = page_text(pdf, 0)
    for expected in (
        "催告函",
        "某某消费金融有限公司",
        "本金",
        "8,000.00",
        "利息",
        "450.00",
        "罚息",
        "123.45",
        "8,573.45",  # the total
        "分期",  # how to ask for a plan
        "异议",  # how to dispute
        "12378",
        "张伟",
    ):
        assert expected in zh, expected
    en = page_text(pdf, 1)
    assert "Demand for Payment" in en and "12378" in en and "dispute" in en


def test_the_chinese_glyphs_render_as_distinct_shapes_not_blanks_or_boxes() -> None:
    pdf = render_letter(letter())
    crops = glyph_crops(pdf, "催告函")
    for crop in crops:
        assert crop.size > 0
        ink = (crop < 128).mean()
        assert 0.05 < ink < 0.7  # inked, but not a filled block
    # Missing glyphs render as identical boxes ("tofu"): real glyphs differ from each other.
    h = min(crop.shape[0] for crop in crops)
    w = min(crop.shape[1] for crop in crops)
    a, b, c = ((crop[:h, :w] < 128) for crop in crops)
    assert (a != b).mean() > 0.05 and (b != c).mean() > 0.05 and (a != c).mean() > 0.05
    # and the body text, drawn by the same embedded font, has ink where its characters are
    body = (
        glyph_crops(pdf, "监管")[0] if "监管" in page_text(pdf, 0) else glyph_crops(pdf, "投诉")[0]
    )
    assert (body < 128).mean() > 0.05


def test_a_threatening_template_is_refused_before_anything_is_rendered() -> None:
    base = default_templates()
    bad_zh = base.zh.model_copy(
        update={"body": (*base.zh.body, "再不还款就立即起诉，冻结你的银行卡。")}
    )
    bad = LetterTemplates(zh=bad_zh, en=base.en)
    with pytest.raises(ContentRejected, match=r"demand letter template \(zh\).*CN.LANG.PROHIBITED"):
        render_letter(letter(), bad)
    fake = base.en.model_copy(
        update={"body": (*base.en.body, "This is the court: a warrant is issued.")}
    )
    with pytest.raises(ContentRejected, match=r"template \(en\)"):
        render_letter(letter(), LetterTemplates(zh=base.zh, en=fake))


def test_a_creditor_name_that_claims_authority_is_refused() -> None:
    settings = default_config().letter.model_copy(update={"creditor_zh": "某某法院执行局"})
    with pytest.raises(ContentRejected, match=r"CN\.LANG\.PROHIBITED"):
        render_letter(letter(settings=settings))


def test_a_time_barred_debt_gets_no_letter_that_mentions_suit() -> None:
    with pytest.raises(ContentRejected, match="time_barred"):
        render_letter(letter(time_barred=True))


def test_the_addressee_is_data_not_wording() -> None:
    # An address may name a police station's street; it is the debtor's, not a claim.
    pdf = render_letter(letter(borrower_address="北京市东城区公安街派出所旁1号"))
    assert "公安街" in page_text(pdf, 0)
