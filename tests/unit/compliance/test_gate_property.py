"""The gate against a small, independent, per-contact oracle (pack CN, default lender).

For random histories, holds, flags and plans:
- every contact the gate allows breaks no rule of the pack (the oracle counts history and
  the earlier *allowed* planned contacts);
- the gate's ``blocked_by`` is exactly the set of rules the oracle finds applying, where
  planned contacts count in plan order when no non-frequency rule blocks them;
- with one contact per borrower, deciding each contact alone (the online path) gives the
  same row as deciding the whole plan.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl
from factories_compliance import flags, history, holds, make_flags, planned
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forbear.domain.compliance.config import default_rules
from forbear.domain.compliance.gate import gate

RULES = default_rules("CN")
ZONES = {1: "Asia/Shanghai", 2: "America/New_York"}
T0 = datetime(2026, 3, 1, tzinfo=ZoneInfo("UTC"))
VOICE = {"call", "ai_call"}
THIRD = {"emergency_contact", "other_third_party"}
REFUSERS = {"debt_related", *THIRD}
LAWFUL = {
    "contract",
    "supplied_by_debtor",
    "debtor_authorisation",
    "public_source",
    "registered_contact_person",
    "authorised_bureau",
}
FREQ = {"CN.FREQ.UNANSWERED", "CN.FREQ.CONNECTED"}

times = st.integers(0, 4 * 24 * 60).map(lambda m: T0 + timedelta(minutes=m))
borrower = st.sampled_from([1, 2])


@st.composite
def contact_point(draw, b):
    party = draw(
        st.sampled_from(["debtor", "debtor", "guarantor", "emergency_contact", "other_third_party"])
    )
    cp = b * 100 + draw(st.integers(0, 2)) + (0 if party == "debtor" else 5)
    return cp, party


@st.composite
def attempt(draw):
    b = draw(borrower)
    cp, party = draw(contact_point(b))
    return {
        "borrower_id": b,
        "loan_id": b * 10 + draw(st.integers(0, 1)),
        "contact_point_id": cp,
        "channel": draw(st.sampled_from(["call", "call", "ai_call", "sms"])),
        "party": party,
        "at": draw(times),
        "outcome": draw(
            st.sampled_from(
                [
                    "connected",
                    "no_answer",
                    "no_answer",
                    "busy",
                    "invalid_number",
                    "refused",
                    "blocked",
                    None,  # pending: allowed, no outcome recorded yet
                    None,
                ]
            )
        ),
        "agency_id": draw(st.sampled_from([None, 7])),
    }


@st.composite
def contact(draw):
    b = draw(borrower)
    cp, party = draw(contact_point(b))
    channel = draw(st.sampled_from(["call", "call", "ai_call", "sms", "letter", "visit"]))
    return {
        "loan_id": b * 10 + draw(st.integers(0, 1)),
        "borrower_id": b,
        "contact_point_id": None if channel == "letter" else cp,
        "channel": channel,
        "party": party,
        "provenance": draw(
            st.sampled_from(["contract", "contract", "supplied_by_debtor", "address_book", None])
        ),
        "at": draw(times),
        "timezone": ZONES[b],
        "agency_id": draw(st.sampled_from([None, None, 7, 8])),
        "discloses_debt": draw(st.booleans()),
        "is_demand": draw(st.booleans()),
    }


@st.composite
def hold(draw):
    b = draw(borrower)
    since = draw(times)
    return {
        "borrower_id": b,
        "loan_id": draw(st.sampled_from([None, b * 10, b * 10 + 1])),
        "kind": draw(
            st.sampled_from(
                ["dispute", "complaint", "opt_out", "vulnerable", "deceased", "do_not_contact"]
            )
        ),
        "channel": draw(st.sampled_from([None, "sms", "call"])),
        "contact_point_id": draw(st.sampled_from([None, None, b * 100 + 5, b * 100 + 6])),
        "since": since,
        "until": draw(st.sampled_from([None, since + timedelta(days=1)])),
    }


@st.composite
def flag(draw, loan):
    maybe_t = st.one_of(st.none(), times)
    return make_flags(
        loan_id=loan,
        borrower_id=loan // 10,
        agency_id=draw(st.sampled_from([None, 7, 8])),
        agency_notified_at=draw(maybe_t),
        assigned_at=draw(maybe_t),
        assignment_notified_at=draw(maybe_t),
        last_due_date=draw(st.sampled_from([date(2022, 1, 1), date(2023, 3, 2), date(2025, 6, 1)])),
        last_demand_at=draw(maybe_t),
        debtor_unreachable_since=draw(maybe_t),
    )


world = st.fixed_dictionaries(
    {
        "history": st.lists(attempt(), max_size=30),
        "holds": st.lists(hold(), max_size=3),
        "flags": st.tuples(*(flag(loan) for loan in (10, 11, 20, 21))).map(list),
    }
)


# --------------------------------------------------------------------------- the oracle


def local(at: datetime, b: int) -> datetime:
    return at.astimezone(ZoneInfo(ZONES[b]))


def is_open(h, at):
    return (h["since"] is None or h["since"] <= at) and (h["until"] is None or h["until"] > at)


def plus_years(d: date, n: int) -> date:
    try:
        return d.replace(year=d.year + n)
    except ValueError:  # 29 February
        return d.replace(year=d.year + n, day=28)


def applying(c, w, earlier):
    """The rule ids a contact breaks, given history and the earlier counted planned contacts."""
    b, at, ch, cp, party = (
        c["borrower_id"],
        c["at"],
        c["channel"],
        c["contact_point_id"],
        c["party"],
    )
    lt = local(at, b)
    day = lt.date()
    f = next(x for x in w["flags"] if x["loan_id"] == c["loan_id"])
    hist = [h for h in w["history"] if h["borrower_id"] == b and h["outcome"] != "blocked"]
    out = set()
    if ch != "letter" and not (8 <= lt.hour < 21):
        out.add("CN.HOURS.QUIET")
    if ch in VOICE and cp is not None:
        n = sum(
            1
            for h in hist
            if h["contact_point_id"] == cp
            and h["channel"] in VOICE
            and h["outcome"] in {"no_answer", "busy", None}  # pending may go unanswered
            and local(h["at"], b).date() == day
        )
        n += sum(
            1
            for e in earlier
            if e["contact_point_id"] == cp
            and e["channel"] in VOICE
            and local(e["at"], b).date() == day
        )
        if n >= 6:
            out.add("CN.FREQ.UNANSWERED")
    if ch in VOICE:
        n = sum(
            1
            for h in hist
            if h["channel"] in VOICE
            and h["outcome"] in {"connected", None}  # pending may become a conversation
            and local(h["at"], b).date() == day
        )
        n += sum(1 for e in earlier if e["channel"] in VOICE and local(e["at"], b).date() == day)
        if n >= 3:
            out.add("CN.FREQ.CONNECTED")
    open_holds = [
        h
        for h in w["holds"]
        if h["borrower_id"] == b and h["loan_id"] in (None, c["loan_id"]) and is_open(h, at)
    ]
    scope = {
        "dispute": "all",
        "complaint": "all",
        "cease": "all",
        "do_not_contact": "all",
        "lawyer": "all",
        "opt_out": "medium",
        "vulnerable": {"call", "ai_call", "visit"},
        "deceased": "debtor",
    }
    for h in open_holds:
        if h["contact_point_id"] not in (None, cp):
            continue
        s = scope[h["kind"]]
        if (
            s == "all"
            or (s == "medium" and h["channel"] in (None, ch))
            or (s == "debtor" and party == "debtor")
            or (isinstance(s, set) and ch in s)
        ):
            out.add("CN.HOLDS")
    if (
        party in REFUSERS
        and any(h["contact_point_id"] == cp and h["outcome"] == "refused" for h in hist)
    ) or any(h["contact_point_id"] is not None and h["contact_point_id"] == cp for h in open_holds):
        out.add("CN.3P.REFUSAL")
    if party in THIRD:
        if c["is_demand"]:
            out.add("CN.3P.NO_UNRELATED")
        if c["discloses_debt"]:
            out.add("CN.3P.NO_DISCLOSE")
        dials = sorted(
            (h for h in hist if h["party"] == "debtor" and h["channel"] in VOICE and h["at"] < at),
            key=lambda h: h["at"],
            reverse=True,
        )
        unreachable = (
            (f["debtor_unreachable_since"] is not None and f["debtor_unreachable_since"] <= at)
            or any(h["kind"] == "deceased" for h in open_holds)
            or (bool(dials) and dials[0]["outcome"] == "invalid_number")
            or (
                len(dials) >= 3
                and all(d["outcome"] in {"no_answer", "busy", "invalid_number"} for d in dials[:3])
                and local(dials[0]["at"], b).date() < day
            )
        )
        if not unreachable:
            out.add("CN.3P.LOST_CONTACT_GATE")
    if cp is not None and c["provenance"] not in LAWFUL:
        out.add("CN.DATA.CONTACT_SOURCE")
    if c["agency_id"] is not None:
        if f["agency_notified_at"] is None or f["agency_notified_at"] > at:
            out.add("CN.AGENCY.NOTIFY_DEBTOR")
        if f["agency_id"] != c["agency_id"]:
            out.add("CN.AGENCY.SCOPE")
    if (
        f["assigned_at"] is not None
        and f["assigned_at"] <= at
        and (f["assignment_notified_at"] is None or f["assignment_notified_at"] > at)
    ):
        out.add("CN.ASSIGN.NOTICE")
    start = f["last_due_date"]
    if f["last_demand_at"] is not None:
        start = max(start, f["last_demand_at"].date())
    if c["is_demand"] and day > plus_years(start, 3):
        out.add("CN.LIMITATION")
    return out


def run(w, plan):
    return gate(
        planned(plan), history(w["history"]), flags(w["flags"]), holds(w["holds"]), RULES
    ).collect()


def numbered(plan):
    return [{**c, "contact_id": i} for i, c in enumerate(plan)]


FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(world, st.lists(contact(), min_size=1, max_size=8).map(numbered))
def test_gate_agrees_with_the_oracle(w, plan):
    rows = {r["contact_id"]: r for r in run(w, plan).to_dicts()}
    assert len(rows) == len(plan)
    by_id = sorted(plan, key=lambda c: c["contact_id"])
    for c in by_id:
        row = rows[c["contact_id"]]
        same = [
            e
            for e in by_id
            if e["borrower_id"] == c["borrower_id"] and e["contact_id"] < c["contact_id"]
        ]
        allowed_before = [e for e in same if rows[e["contact_id"]]["allowed"]]
        eligible_before = [e for e in same if not (applying(e, w, []) - FREQ)]
        if row["allowed"]:
            assert not applying(c, w, allowed_before), c
            assert row["earliest_allowed_at"] is None
        else:
            assert set(row["blocked_by"]) == applying(c, w, eligible_before), c
            assert row["blocked_by"] == sorted(row["blocked_by"])
            e = row["earliest_allowed_at"]
            if e is not None:
                assert e > c["at"]
                # the temporal rules that blocked it pass at the earliest time
                later = applying({**c, "at": e}, w, [])
                assert not later & {"CN.HOURS.QUIET", "CN.AGENCY.NOTIFY_DEBTOR", "CN.ASSIGN.NOTICE"}


@FAST
@given(
    world,
    st.lists(contact(), min_size=1, max_size=2, unique_by=lambda c: c["borrower_id"]).map(numbered),
)
def test_one_row_path_equals_batch_path(w, plan):
    batch = run(w, plan)
    for i, c in enumerate(plan):
        alone = run(w, [c])
        assert alone.row(0, named=True) == batch.row(i, named=True)
        assert alone.schema == batch.schema


def test_output_schema_is_planned_plus_decision():
    from forbear.domain.compliance.schema import DECISION, PLANNED

    out = run({"history": [], "holds": [], "flags": [make_flags()]}, [])
    assert out.schema == pl.Schema({**PLANNED, **DECISION})
