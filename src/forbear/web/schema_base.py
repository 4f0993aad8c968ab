"""The two building blocks of every request and answer schema, outside ``forbear.web.api``
so that pages and shared views can use them without loading the API's route modules:
:class:`Request` (an unknown field is an error, not silently ignored) and :class:`Money`
(integer fen and the yuan text). :mod:`forbear.web.api.schemas` re-exports both."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from forbear.domain.money import format_yuan


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Money(BaseModel):
    fen: int = Field(description="integer number of fen (分)", examples=[123456])
    yuan: str = Field(description="formatted, for display", examples=["¥1,234.56"])

    @classmethod
    def of(cls, fen: int) -> Money:
        return cls(fen=int(fen), yuan="¥" + format_yuan(int(fen)))

    @classmethod
    def maybe(cls, fen: int | None) -> Money | None:
        return None if fen is None else cls.of(fen)
