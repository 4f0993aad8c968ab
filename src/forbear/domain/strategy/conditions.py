"""The condition language of segments, over the ACCOUNT frame.

A condition is one of::

    dpd >= 1                 a comparison: FIELD OP VALUE, OP in >= <= > < == != in, not in
    ew_tier in [D, E]        a list of values for ``in`` / ``not in``
    hold_any                 a boolean field alone means ``hold_any == true``
    always                   holds for every account (a catch-all segment)
    {all: [c, ...]}          every one holds
    {any: [c, ...]}          at least one holds
    {not: c}                 c does not hold
    [c, ...]                 shorthand for ``all``

A comparison with a null value (an unscored account's tier, ``days_to_due`` of a loan
with nothing due) does not hold; ``not`` of it holds. Amounts are fen.

:func:`parse` refuses unknown fields, operators that do not fit the field's type, and
(:func:`never_holds`) conditions that no account can meet, e.g. ``dpd < 0`` or
``all: [dpd > 30, dpd < 10]``: it puts the condition in disjunctive normal form and
intersects each conjunction's ranges per field, within each field's natural domain.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Literal

import polars as pl

Kind = Literal["int", "float", "str", "bool"]

FIELDS: dict[str, Kind] = {
    "dpd": "int",
    "days_to_due": "int",
    "outstanding": "int",
    "overdue_total": "int",
    "broken_promises_90d": "int",
    "days_in_segment": "int",
    "propensity": "float",
    "ew_pd": "float",
    "bucket": "str",
    "status": "str",
    "behaviour_tier": "str",
    "ew_tier": "str",
    "hold_any": "bool",
    "active_plan": "bool",
    "active_promise": "bool",
    "limitation_expired": "bool",
    "hardship": "bool",
    "debtor_unreachable": "bool",
    "emergency_contact": "bool",
}

# The values a numeric field can take at all (closed ranges).
DOMAINS: dict[str, tuple[float, float]] = {
    "dpd": (0, math.inf),
    "days_to_due": (0, math.inf),
    "outstanding": (0, math.inf),
    "overdue_total": (0, math.inf),
    "broken_promises_90d": (0, math.inf),
    "days_in_segment": (0, math.inf),
    "propensity": (0.0, 1.0),
    "ew_pd": (0.0, 1.0),
}

_NEGATE = {">=": "<", "<": ">=", "<=": ">", ">": "<=", "==": "!=", "!=": "==",
           "in": "not in", "not in": "in"}  # fmt: skip
_COMPARISON = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s*(>=|<=|==|!=|>|<|not\s+in\b|in\b)\s*(.+?)\s*$")
_DNF_LIMIT = 512  # beyond this many conjunctions, the never-holds check gives up (assumes ok)


class ConditionError(Exception):
    """A bad condition; ``path`` is the key path inside the condition (for the line)."""

    def __init__(self, reason: str, path: tuple[str | int, ...] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path = path


Value = int | float | str | bool


@dataclass(frozen=True)
class Leaf:
    field: str
    op: str
    value: Value | tuple[Value, ...]
    path: tuple[str | int, ...] = ()

    def negated(self) -> Leaf:
        return Leaf(self.field, _NEGATE[self.op], self.value, self.path)

    def __str__(self) -> str:
        v = self.value
        shown = "[" + ", ".join(map(str, v)) + "]" if isinstance(v, tuple) else str(v)
        return f"{self.field} {self.op} {shown}"


@dataclass(frozen=True)
class Always:
    value: bool
    path: tuple[str | int, ...] = ()


@dataclass(frozen=True)
class Node:
    op: Literal["all", "any", "not"]
    children: tuple[Condition, ...]
    path: tuple[str | int, ...] = ()


Condition = Leaf | Always | Node


# --- parsing ----------------------------------------------------------------------------


def parse(raw: Any, path: tuple[str | int, ...] = ()) -> Condition:
    if isinstance(raw, bool):
        return Always(raw, path)
    if isinstance(raw, list):
        return Node("all", tuple(parse(c, (*path, i)) for i, c in enumerate(raw)), path)
    if isinstance(raw, dict):
        if len(raw) != 1:
            raise ConditionError("a condition map has exactly one key: all, any or not", path)
        ((key, body),) = raw.items()
        if key in ("all", "any"):
            if not isinstance(body, list) or not body:
                raise ConditionError(f"{key}: give a non-empty list of conditions", (*path, key))
            kids = tuple(parse(c, (*path, key, i)) for i, c in enumerate(body))
            return Node(key, kids, path)
        if key == "not":
            return Node("not", (parse(body, (*path, key)),), path)
        raise ConditionError(f"unknown condition key {key!r} (all, any, not)", (*path, str(key)))
    if isinstance(raw, str):
        return _leaf(raw, path)
    raise ConditionError(f"not a condition: {raw!r}", path)


def _leaf(text: str, path: tuple[str | int, ...]) -> Condition:
    s = text.strip()
    if s == "always":
        return Always(True, path)
    if re.fullmatch(r"[a-z_][a-z0-9_]*", s):
        kind = FIELDS.get(s)
        if kind is None:
            raise ConditionError(_unknown(s), path)
        if kind != "bool":
            raise ConditionError(f"{s} is not a yes/no field: compare it (e.g. {s} >= 1)", path)
        return Leaf(s, "==", True, path)
    m = _COMPARISON.match(s)
    if m is None:
        raise ConditionError(f"cannot read condition {text!r} (FIELD OP VALUE)", path)
    field, op, rhs = m.group(1), re.sub(r"\s+", " ", m.group(2)), m.group(3)
    kind = FIELDS.get(field)
    if kind is None:
        raise ConditionError(_unknown(field), path)
    if op in ("in", "not in"):
        if not (rhs.startswith("[") and rhs.endswith("]")):
            raise ConditionError(f"{op}: give a list, e.g. [D, E]", path)
        items = [x.strip() for x in rhs[1:-1].split(",") if x.strip()]
        if not items:
            raise ConditionError(f"{op}: the list is empty", path)
        return Leaf(field, op, tuple(_value(field, kind, x, path) for x in items), path)
    if kind in ("str", "bool") and op not in ("==", "!="):
        raise ConditionError(f"{field} can only be compared with ==, !=, in, not in", path)
    return Leaf(field, op, _value(field, kind, rhs, path), path)


def _unknown(field: str) -> str:
    return f"unknown field {field!r} (known: {', '.join(sorted(FIELDS))})"


def _value(field: str, kind: Kind, text: str, path: tuple[str | int, ...]) -> Value:
    t = text.strip().strip("'\"")
    try:
        if kind == "int":
            return int(t.replace("_", ""))
        if kind == "float":
            return float(t)
    except ValueError:
        raise ConditionError(f"{field}: {text!r} is not a number", path) from None
    if kind == "bool":
        if t.lower() in ("true", "yes"):
            return True
        if t.lower() in ("false", "no"):
            return False
        raise ConditionError(f"{field}: {text!r} is not true or false", path)
    return t


# --- normal forms and the never-holds check --------------------------------------------------


def nnf(c: Condition, negate: bool = False) -> Condition:
    """Push ``not`` down to the leaves."""
    if isinstance(c, Always):
        return Always(c.value != negate, c.path)
    if isinstance(c, Leaf):
        return c.negated() if negate else c
    if c.op == "not":
        return nnf(c.children[0], not negate)
    op: Literal["all", "any"] = c.op if not negate else ("any" if c.op == "all" else "all")
    return Node(op, tuple(nnf(k, negate) for k in c.children), c.path)


def dnf(c: Condition) -> list[list[Leaf]] | None:
    """Conjunctions of leaves (of an NNF condition); None when it grows too large."""
    if isinstance(c, Always):
        return [[]] if c.value else []
    if isinstance(c, Leaf):
        return [[c]]
    parts = [dnf(k) for k in c.children]
    if any(p is None for p in parts):
        return None
    if c.op == "any":
        out = [conj for p in parts for conj in p or []]
        return out if len(out) <= _DNF_LIMIT else None
    acc: list[list[Leaf]] = [[]]
    for p in parts:
        acc = [a + b for a in acc for b in p or []]
        if len(acc) > _DNF_LIMIT:
            return None
    return acc


@dataclass
class _Range:
    lo: float
    hi: float
    lo_open: bool = False
    hi_open: bool = False


def conjunction_ranges(conj: list[Leaf]) -> dict[str, _Range] | None:
    """Each numeric field's range under a conjunction; None when the conjunction is empty
    (can never hold), judging strings and booleans too."""
    ranges: dict[str, _Range] = {}
    allowed: dict[str, set[Value]] = {}
    excluded: dict[str, set[Value]] = {}
    for leaf in conj:
        kind = FIELDS[leaf.field]
        if kind in ("int", "float"):
            lo, hi = DOMAINS.get(leaf.field, (-math.inf, math.inf))
            r = ranges.setdefault(leaf.field, _Range(lo, hi))
            _narrow(r, leaf)
        elif leaf.op in ("==", "in"):
            vals = set(leaf.value) if isinstance(leaf.value, tuple) else {leaf.value}
            allowed[leaf.field] = allowed.get(leaf.field, vals) & vals
        else:
            vals = set(leaf.value) if isinstance(leaf.value, tuple) else {leaf.value}
            excluded.setdefault(leaf.field, set()).update(vals)
    for field, vals in allowed.items():
        if not vals - excluded.get(field, set()):
            return None
    for field, vals in excluded.items():
        if FIELDS[field] == "bool" and field not in allowed and {True, False} <= vals:
            return None
    for field, r in ranges.items():
        if FIELDS[field] == "int":
            lo = _int_lo(r)
            hi = -_int_lo(_Range(-r.hi, -r.lo, r.hi_open, r.lo_open))
            if lo > hi:
                return None
        elif r.lo > r.hi or (r.lo == r.hi and (r.lo_open or r.hi_open)):
            return None
    return ranges


def _int_lo(r: _Range) -> float:
    if math.isinf(r.lo):
        return r.lo
    return math.floor(r.lo) + 1 if r.lo_open else math.ceil(r.lo)


def _narrow(r: _Range, leaf: Leaf) -> None:
    v = leaf.value
    if isinstance(v, tuple):
        nums = [float(x) for x in v if not isinstance(x, str | bool)]
        if leaf.op == "in":  # the hull of the listed values is enough for emptiness here
            _narrow(r, Leaf(leaf.field, ">=", min(nums)))
            _narrow(r, Leaf(leaf.field, "<=", max(nums)))
        return
    if isinstance(v, str | bool):
        return
    x = float(v)
    op = leaf.op
    if op in (">=", ">", "=="):
        strict = op == ">"
        if x > r.lo or (x == r.lo and strict):
            r.lo, r.lo_open = x, strict
    if op in ("<=", "<", "=="):
        strict = op == "<"
        if x < r.hi or (x == r.hi and strict):
            r.hi, r.hi_open = x, strict


def never_holds(c: Condition) -> Condition | None:
    """The innermost part of ``c`` (in positive position) that no account can meet, or None.

    Checked bottom-up on the NNF so the error points at the narrowest culprit.
    """
    n = nnf(c)
    return _dead(n)


def _dead(c: Condition) -> Condition | None:
    if isinstance(c, Node):
        for k in c.children:
            found = _dead(k)
            if found is not None:
                return found
    if isinstance(c, Always):
        return c if not c.value else None
    forms = dnf(c)
    if forms is None:
        return None
    if all(conjunction_ranges(conj) is None for conj in forms):
        return c
    return None


def lower_bound(c: Condition, field: str) -> float | None:
    """The smallest value of a numeric field any account meeting ``c`` can have (None =
    unbounded or unknown). Used to estimate how long an account has been in a segment."""
    forms = dnf(nnf(c))
    if not forms:
        return None
    lows: list[float] = []
    for conj in forms:
        ranges = conjunction_ranges(conj)
        if ranges is None:
            continue
        r = ranges.get(field)
        if r is None or r.lo == DOMAINS.get(field, (-math.inf,))[0]:
            return None
        lows.append(_int_lo(r))
    return min(lows) if lows else None


def upper_bound(c: Condition, field: str) -> float | None:
    forms = dnf(nnf(c))
    if not forms:
        return None
    highs: list[float] = []
    for conj in forms:
        ranges = conjunction_ranges(conj)
        if ranges is None:
            continue
        r = ranges.get(field)
        if r is None or math.isinf(r.hi):
            return None
        highs.append(-_int_lo(_Range(-r.hi, -r.lo, r.hi_open, r.lo_open)))
    return max(highs) if highs else None


def fields_of(c: Condition) -> set[str]:
    """The ACCOUNT fields a condition reads."""
    if isinstance(c, Always):
        return set()
    if isinstance(c, Leaf):
        return {c.field}
    return set().union(*(fields_of(k) for k in c.children))


# --- compilation ------------------------------------------------------------------------


def to_expr(c: Condition) -> pl.Expr:
    """A Boolean Polars expression, never null (a null comparison is false)."""
    if isinstance(c, Always):
        return pl.lit(c.value)
    if isinstance(c, Node):
        if c.op == "not":
            return ~to_expr(c.children[0])
        exprs = [to_expr(k) for k in c.children]
        return pl.all_horizontal(exprs) if c.op == "all" else pl.any_horizontal(exprs)
    col = pl.col(c.field)
    v = c.value
    if isinstance(v, tuple):
        e = col.is_in(list(v))
        e = e if c.op == "in" else ~e
        return (e & col.is_not_null()).fill_null(False)
    ops = {
        ">=": col >= v, "<=": col <= v, ">": col > v, "<": col < v,
        "==": col == v, "!=": col != v,
    }  # fmt: skip
    return ops[c.op].fill_null(False)


def describe(c: Condition) -> str:
    if isinstance(c, Always):
        return "always" if c.value else "never"
    if isinstance(c, Leaf):
        return str(c)
    if c.op == "not":
        return f"not ({describe(c.children[0])})"
    return f"{c.op}({', '.join(describe(k) for k in c.children)})"
