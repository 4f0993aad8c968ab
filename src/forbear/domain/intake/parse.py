"""Polars expressions that parse one string column and say what is wrong with it.

Each parser returns ``(value, reason)``: ``value`` is null where the text is bad and
``reason`` is null where it is good. Reasons describe the problem without quoting the
value, because the value may be personal data.
"""

from __future__ import annotations

import polars as pl

_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d")
_NAIVE_DATETIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y/%m/%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M",
)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CHARS = "10X98765432"


def text(col: str) -> pl.Expr:
    """The column stripped of surrounding white space, empty text as null."""
    stripped = pl.col(col).str.strip_chars()
    return pl.when(stripped == "").then(None).otherwise(stripped)


def required(col: str) -> pl.Expr:
    return pl.when(text(col).is_null()).then(pl.lit("is required")).otherwise(None)


def amount_fen(col: str, *, allow_zero: bool = False) -> tuple[pl.Expr, pl.Expr]:
    """Yuan text (``1,234.56``, ``¥88``) to integer fen, exactly: no float on the way."""
    cleaned = text(col).str.replace_all(r"[,，¥￥\s]", "")
    ok = cleaned.str.contains(r"^\d{1,13}(\.\d{1,2})?$")
    whole = cleaned.str.extract(r"^(\d+)", 1).cast(pl.Int64, strict=False)
    decimals = (
        cleaned.str.extract(r"\.(\d{1,2})$", 1).fill_null("0").str.pad_end(2, "0").cast(pl.Int64)
    )
    value = pl.when(ok).then(whole * 100 + decimals).otherwise(None)
    positive = value > 0 if not allow_zero else value >= 0
    reason = (
        pl.when(cleaned.is_null())
        .then(None)
        .when(cleaned.str.contains(r"^-"))
        .then(pl.lit("amount must not be negative"))
        .when(cleaned.str.contains(r"^\d+\.\d{3,}$"))
        .then(pl.lit("amount has more than 2 decimals"))
        .when(~ok)
        .then(pl.lit("not an amount in yuan"))
        .when(~positive)
        .then(pl.lit("amount must be greater than zero"))
        .otherwise(None)
    )
    return pl.when(reason.is_null()).then(value).otherwise(None), reason


def date(col: str) -> tuple[pl.Expr, pl.Expr]:
    raw = text(col)
    value = pl.coalesce(
        [raw.str.strptime(pl.Date, fmt, strict=False, exact=True) for fmt in _DATE_FORMATS]
    )
    reason = (
        pl.when(raw.is_not_null() & value.is_null())
        .then(pl.lit("not a date (use YYYY-MM-DD)"))
        .otherwise(None)
    )
    return value, reason


def local_datetime(col: str, zone: str) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """A date or date-time in the lender's zone (or with an offset).

    Returns ``(paid_on, paid_at_utc, reason)``: the business date in ``zone``, the instant
    in UTC (null when only a date was given) and the problem, if any.
    """
    raw = text(col)
    with_offset = raw.str.strptime(
        pl.Datetime("us", "UTC"), "%Y-%m-%dT%H:%M:%S%z", strict=False, exact=True
    )
    naive = pl.coalesce(
        [
            raw.str.strptime(pl.Datetime("us"), fmt, strict=False, exact=True)
            for fmt in _NAIVE_DATETIME_FORMATS
        ]
    )
    at_utc = pl.coalesce(
        [
            with_offset,
            naive.dt.replace_time_zone(
                zone, ambiguous="earliest", non_existent="null"
            ).dt.convert_time_zone("UTC"),
        ]
    )
    only_date, _ = date(col)
    paid_on = pl.coalesce([at_utc.dt.convert_time_zone(zone).dt.date(), only_date])
    reason = (
        pl.when(raw.is_not_null() & paid_on.is_null())
        .then(pl.lit("not a date or date-time (use YYYY-MM-DD HH:MM:SS)"))
        .otherwise(None)
    )
    return paid_on, at_utc, reason


def integer(col: str, *, low: int, high: int) -> tuple[pl.Expr, pl.Expr]:
    raw = text(col)
    value = raw.cast(pl.Int64, strict=False)
    reason = (
        pl.when(raw.is_null())
        .then(None)
        .when(value.is_null())
        .then(pl.lit("not a whole number"))
        .when((value < low) | (value > high))
        .then(pl.lit(f"must be between {low} and {high}"))
        .otherwise(None)
    )
    return value, reason


def percent_bp(col: str) -> tuple[pl.Expr, pl.Expr]:
    """``18`` or ``17.99`` (percent a year) to basis points (1800, 1799)."""
    raw = text(col).str.replace(r"%$", "")
    ok = raw.str.contains(r"^\d{1,3}(\.\d{1,2})?$")
    whole = raw.str.extract(r"^(\d+)", 1).cast(pl.Int64, strict=False)
    decimals = raw.str.extract(r"\.(\d{1,2})$", 1).fill_null("0").str.pad_end(2, "0").cast(pl.Int64)
    value = pl.when(ok).then(whole * 100 + decimals).otherwise(None)
    reason = (
        pl.when(raw.is_null())
        .then(None)
        .when(~ok)
        .then(pl.lit("not a rate in percent with at most 2 decimals"))
        .when(value > 100_00)
        .then(pl.lit("rate above 100% a year"))
        .otherwise(None)
    )
    return value.cast(pl.Int32), reason


def mobile(col: str) -> tuple[pl.Expr, pl.Expr]:
    """A mainland mobile number: 11 digits starting 13-19, ``+86``/``86`` prefix removed."""
    digits = text(col).str.replace_all(r"[\s\-()]", "")
    stripped = digits.str.replace(r"^(\+?86)(1\d{10})$", "$2")
    ok = stripped.str.contains(r"^1[3-9]\d{9}$")
    reason = (
        pl.when(stripped.is_null())
        .then(None)
        .when(~ok)
        .then(pl.lit("not an 11-digit mainland mobile number"))
        .otherwise(None)
    )
    return pl.when(ok).then(stripped).otherwise(None), reason


def national_id(col: str) -> tuple[pl.Expr, pl.Expr]:
    """An 18-character resident ID (GB 11643-1999): digits, birth date and check digit."""
    value = text(col).str.to_uppercase()
    shape = value.str.contains(r"^\d{17}[\dX]$")
    checksum = pl.sum_horizontal(
        [value.str.slice(i, 1).cast(pl.Int32, strict=False) * w for i, w in enumerate(_ID_WEIGHTS)]
    )
    expected = (checksum % 11).replace_strict(
        list(range(11)), list(_ID_CHECK_CHARS), return_dtype=pl.String, default=None
    )
    birth = value.str.slice(6, 8).str.strptime(pl.Date, "%Y%m%d", strict=False, exact=True)
    reason = (
        pl.when(value.is_null())
        .then(None)
        .when(~shape)
        .then(pl.lit("not an 18-character resident ID number"))
        .when(birth.is_null())
        .then(pl.lit("ID number has an impossible birth date"))
        .when(expected != value.str.slice(17, 1))
        .then(pl.lit("ID number check digit is wrong"))
        .otherwise(None)
    )
    return pl.when(reason.is_null()).then(value).otherwise(None), reason


def email(col: str) -> tuple[pl.Expr, pl.Expr]:
    value = text(col).str.to_lowercase()
    ok = value.str.contains(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    reason = (
        pl.when(value.is_not_null() & ~ok).then(pl.lit("not an e-mail address")).otherwise(None)
    )
    return pl.when(ok).then(value).otherwise(None), reason


def one_of(col: str, allowed: tuple[str, ...]) -> tuple[pl.Expr, pl.Expr]:
    value = text(col).str.to_lowercase()
    reason = (
        pl.when(value.is_not_null() & ~value.is_in(list(allowed)))
        .then(pl.lit(f"must be one of {', '.join(allowed)}"))
        .otherwise(None)
    )
    return value, reason
