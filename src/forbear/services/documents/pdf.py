"""A small page builder over fpdf2 with an embedded CJK font.

The font is Noto Sans CJK SC from the ``noto-cjk-sans-otc`` package (a PyPI dependency
under the SIL Open Font License): nothing is downloaded at run time, no font file lives
in this repository, and fpdf2 subsets the glyphs each document uses into the PDF, so it
shows the same on every reader, with or without Chinese fonts installed. PDF's standard
CID fonts (STSong-Light) are not used: they are not embedded and render as blanks where
the reader has no Chinese font.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache

import noto_cjk_sans_otc
from fontTools.ttLib import TTCollection
from fpdf import FPDF
from fpdf.enums import Align, WrapMode, XPos, YPos
from fpdf.fonts import FontFace

from forbear.domain.errors import ConfigurationError

FAMILY = "NotoSansSC"
_WANTED = "Noto Sans CJK SC"  # the Simplified Chinese face of the collection


@cache
def font() -> tuple[str, int]:
    """The font collection's path and the index of its Simplified Chinese face."""
    path = str(noto_cjk_sans_otc.FONT_PATH)
    try:
        with open(path, "rb") as handle:
            collection = TTCollection(handle, lazy=True)
            for index, face in enumerate(collection.fonts):
                if face["name"].getDebugName(4) == _WANTED:
                    return path, index
    except OSError as exc:
        raise ConfigurationError(f"the CJK font cannot be read ({exc})") from None
    raise ConfigurationError(f"the CJK font collection has no {_WANTED!r} face")


def _has_cjk(text: str) -> bool:
    return any("\u2e80" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef" for ch in text)


class Page:
    """An A4 document: headings, paragraphs, label/value lines and tables."""

    def __init__(self, *, title: str, created_at: datetime) -> None:
        path, index = font()
        self.pdf = FPDF(format="A4")
        self.pdf.set_auto_page_break(auto=True, margin=18)
        self.pdf.set_margins(20, 18, 20)
        self.pdf.add_font(FAMILY, fname=path, collection_font_number=index)
        self.pdf.set_title(title)
        self.pdf.set_creator("Forbear")
        self.pdf.set_creation_date(created_at.astimezone(UTC))
        self.pdf.alias_nb_pages()
        self.pdf.add_page()
        self.pdf.set_font(FAMILY, size=10.5)

    def new_page(self) -> None:
        self.pdf.add_page()

    def title(self, text: str, size: float = 18) -> None:
        self.pdf.set_font(FAMILY, size=size)
        self.pdf.cell(0, size * 0.6, text, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.pdf.ln(3)
        self.pdf.set_font(FAMILY, size=10.5)

    def heading(self, text: str, size: float = 12.5) -> None:
        self.pdf.ln(2)
        self.pdf.set_font(FAMILY, size=size)
        self.paragraph(text, size=size)
        self.pdf.set_font(FAMILY, size=10.5)

    def paragraph(self, text: str, *, size: float = 10.5, align: str = "L") -> None:
        self.pdf.set_font(FAMILY, size=size)
        self.pdf.multi_cell(
            0,
            size * 0.55,
            text,
            align=Align.coerce(align),
            wrapmode=WrapMode.CHAR if _has_cjk(text) else WrapMode.WORD,
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
        self.pdf.ln(1.5)

    def notice(self, text: str) -> None:
        """A boxed paragraph for what must not be missed (legal-review findings)."""
        self.pdf.set_draw_color(180, 0, 0)
        self.pdf.set_text_color(150, 0, 0)
        self.pdf.multi_cell(
            0,
            6,
            text,
            border=1,
            align=Align.L,
            wrapmode=WrapMode.CHAR,
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
            padding=2,
        )
        self.pdf.set_text_color(0, 0, 0)
        self.pdf.set_draw_color(0, 0, 0)
        self.pdf.ln(2)

    def table(
        self,
        header: Sequence[str],
        rows: Sequence[Sequence[str]],
        *,
        widths: Sequence[int] | None = None,
        align: Sequence[str] | None = None,
        size: float = 9.5,
    ) -> None:
        self.pdf.set_font(FAMILY, size=size)
        with self.pdf.table(
            col_widths=tuple(widths) if widths else None,
            text_align=tuple(align) if align else "LEFT",
            wrapmode=WrapMode.CHAR,
            line_height=size * 0.55,
            first_row_as_headings=True,
            headings_style=FontFace(emphasis="", fill_color=(232, 232, 232)),
        ) as table:
            for values in [header, *rows]:
                row = table.row()
                for value in values:
                    row.cell(value)
        self.pdf.set_font(FAMILY, size=10.5)
        self.pdf.ln(3)

    def output(self) -> bytes:
        return bytes(self.pdf.output())
