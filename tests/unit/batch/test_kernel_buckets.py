"""The decision kernel gives the same answer on the whole book and bucket by bucket.

Every gate counter is per debtor and a borrower's loans share a bucket, so cutting the
book by ``borrower_id % buckets`` must not change one decision: the generated day below
has borrowers with several loans, unanswered and connected calls earlier today (the
frequency caps), holds and opt-outs, contact points with and without a lawful source,
debtors without a phone, several time zones and yesterday's carried actions.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forbear.batch import kernel
from forbear.batch.kernel import DayFrames
from forbear.domain.compliance.config import default_rules
from forbear.domain.strategy import compile_strategy, default_strategy

AS_OF = date(2026, 6, 10)
HOUR = time(10, 0)
ZONES = ("Asia/Shanghai", "Asia/Urumqi", "America/Los_Angeles")
# days past due on which the default strategy's cadences act
CADENCE_DPD = (1, 2, 3, 4, 7, 14, 21, 31, 35, 40, 50, 61, 65, 75, 85, 90, 100, 120)
RULES = default_rules()
COMPILED = compile_strategy(default_strategy())


def _bucket_of(dpd: int) -> str:
    return "C" if dpd == 0 else f"M{min((dpd - 1) // 30 + 1, 7)}" + ("+" if dpd > 180 else "")


def generate_day(seed: int, borrowers: int) -> DayFrames:
    """A synthetic day of the kernel's inputs (ids only: no personal data)."""
    rng = np.random.default_rng(seed)
    borrower_ids = np.sort(rng.choice(np.arange(1, borrowers * 5), borrowers, replace=False))
    per = rng.integers(1, 4, borrowers)  # 1-3 loans each
    owner = np.repeat(borrower_ids, per)
    n = owner.size
    loan_ids = np.arange(1, n + 1) * 7 + rng.integers(0, 7, n)  # sparse, increasing

    def pick(values: list[object], p: list[float] | None = None) -> list[object]:
        return [values[i] for i in rng.choice(len(values), n, p=p)]

    def maybe(values: np.ndarray, p_null: float) -> list[object]:
        return [None if rng.random() < p_null else v.item() for v in values]

    dpd = np.where(
        rng.random(n) < 0.25,
        0,
        np.where(rng.random(n) < 0.7, rng.choice(CADENCE_DPD, n), rng.integers(1, 200, n)),
    )
    tiers = ["A", "B", "C", "D", "E", None]
    accounts = pl.DataFrame(
        {
            "loan_id": loan_ids,
            "borrower_id": owner,
            "as_of": [AS_OF] * n,
            "dpd": dpd,
            "bucket": [_bucket_of(int(d)) for d in dpd],
            "days_to_due": maybe(rng.integers(0, 31, n), 0.1),
            "outstanding": rng.integers(0, 5_000_000, n),
            "overdue_total": np.where(dpd > 0, rng.integers(1, 900_000, n), 0),
            "status": pick(["active", "paid_off", "written_off"], [0.92, 0.05, 0.03]),
            "behaviour_tier": pick(tiers),
            "ew_tier": pick(tiers),
            "ew_pd": maybe(rng.random(n), 0.3),
            "propensity": maybe(rng.random(n), 0.3),
            "hold_any": rng.random(n) < 0.04,
            "active_plan": rng.random(n) < 0.03,
            "active_promise": rng.random(n) < 0.03,
            "broken_promises_90d": rng.integers(0, 3, n),
            "limitation_expired": rng.random(n) < 0.03,
            "hardship": rng.random(n) < 0.05,
            "days_in_segment": maybe(rng.integers(0, 16, n), 0.5),
            "last_payment_date": [
                None if rng.random() < 0.5 else AS_OF - timedelta(days=int(d))
                for d in rng.integers(1, 60, n)
            ],
            "reason_codes": pick(['["R01","R07"]', '["R03"]', None]),
        }
    )
    zone_of = dict(
        zip(borrower_ids.tolist(), pick(list(ZONES), [0.8, 0.1, 0.1])[:borrowers], strict=True)
    )
    zones = pl.DataFrame(
        {"borrower_id": borrower_ids, "timezone": [zone_of[b] for b in borrower_ids.tolist()]}
    )
    points = pl.concat(
        [
            pl.DataFrame(
                {
                    "borrower_id": borrower_ids,
                    "kind": "phone",
                    "contact_point_id": borrower_ids * 10 + 1,
                    "provenance": [
                        ["contract", "supplied_by_debtor", "address_book", None][i]
                        for i in rng.choice(4, borrowers, p=[0.8, 0.1, 0.05, 0.05])
                    ],
                }
            ).filter(pl.Series(rng.random(borrowers) < 0.93)),  # some have no phone
            pl.DataFrame(
                {
                    "borrower_id": borrower_ids,
                    "kind": "email",
                    "contact_point_id": borrower_ids * 10 + 2,
                    "provenance": "contract",
                }
            ).filter(pl.Series(rng.random(borrowers) < 0.4)),
        ]
    )
    # earlier today (before 10:00 local): unanswered and connected calls, enough for caps
    history_rows = []
    loans_of = accounts.group_by("borrower_id").agg(pl.col("loan_id").min())
    first_loan = dict(loans_of.iter_rows())
    for b in borrower_ids.tolist():
        if rng.random() >= 0.3:
            continue
        zone = ZoneInfo(zone_of[b])
        for k in range(int(rng.integers(1, 8))):
            local = datetime.combine(AS_OF, time(8, 5 * k), zone)
            if rng.random() < 0.3:
                local -= timedelta(days=int(rng.integers(1, 5)))
            history_rows.append(
                {
                    "borrower_id": b,
                    "loan_id": first_loan[b],
                    "contact_point_id": b * 10 + 1,
                    "channel": "call" if rng.random() < 0.7 else "ai_call",
                    "party": "debtor",
                    "at": local.astimezone(UTC),
                    "outcome": "connected" if rng.random() < 0.4 else "no_answer",
                    "agency_id": None,
                }
            )
    history = pl.DataFrame(history_rows, schema=kernel.TABLES["history"])
    flags = pl.DataFrame(
        {
            "loan_id": loan_ids,
            "borrower_id": owner,
            "agency_id": None,
            "agency_notified_at": None,
            "assigned_at": None,
            "assignment_notified_at": None,
            "last_due_date": [AS_OF + timedelta(days=int(d)) for d in rng.integers(-2000, 300, n)],
            "last_demand_at": None,
            "debtor_unreachable_since": None,
        },
        schema=kernel.TABLES["flags"],
    )
    held = borrower_ids[rng.random(borrowers) < 0.06]
    since = datetime(2026, 5, 1, tzinfo=UTC)
    holds = pl.DataFrame(
        {
            "borrower_id": held,
            "loan_id": None,
            "kind": [
                ["do_not_contact", "opt_out", "dispute", "vulnerable"][i]
                for i in rng.choice(4, held.size)
            ],
            "channel": [
                ["sms", "app_push", None][i] for i in rng.choice(3, held.size, p=[0.5, 0.3, 0.2])
            ],
            "contact_point_id": None,
            "since": since,
            "until": [None if rng.random() < 0.8 else since + timedelta(days=5) for _ in held],
        },
        schema=kernel.TABLES["holds"],
    )
    # yesterday's carried work: some repeat today's actions (today wins), some do not
    carried_loans = accounts.filter(pl.Series(rng.random(n) < 0.15))
    carried = carried_loans.select(
        "loan_id",
        "borrower_id",
        segment=pl.lit("m1"),
        arm=pl.lit("champion"),
        treatment=pl.lit("m1_gentle"),
        action_index=pl.Series(rng.integers(0, 7, carried_loans.height)),
        channel=pl.Series(
            [["call", "sms", "ai_call"][i] for i in rng.integers(0, 3, carried_loans.height)]
        ),
        template=pl.lit("CN.M1.CALLBACK"),
        purpose=pl.lit("follow_up"),
        is_demand=pl.lit(True),
        priority=pl.lit(50),
    )
    return DayFrames(
        accounts=accounts,
        carried=carried,
        points=points,
        zones=zones,
        history=history,
        flags=flags,
        holds=holds,
    ).conformed()


def _whole(frames: DayFrames) -> kernel.Decided:
    return kernel.concat([kernel.decide(frames, COMPILED, RULES, AS_OF, HOUR)])


def _bucketed(frames: DayFrames, root: Path, buckets: int) -> kernel.Decided:
    kernel.write_parquet(frames, root, buckets)
    return kernel.concat(list(kernel.decide_parquet(root, COMPILED, RULES, AS_OF, HOUR)))


def _assert_same(a: kernel.Decided, b: kernel.Decided) -> None:
    assert a.assigned.schema == b.assigned.schema == pl.Schema(kernel.ASSIGNED_OUT)
    assert a.gated.schema == b.gated.schema == pl.Schema(kernel.GATED_OUT)
    assert a.assigned.equals(b.assigned, null_equal=True)
    assert a.gated.equals(b.gated, null_equal=True)


@pytest.fixture(scope="module")
def day() -> DayFrames:
    return generate_day(20260610, 1_500)


@pytest.fixture(scope="module")
def whole(day: DayFrames) -> kernel.Decided:
    return _whole(day)


def test_the_generated_day_exercises_the_gate_and_the_carried_work(
    day: DayFrames, whole: kernel.Decided
) -> None:
    gated = whole.gated
    rules = set(gated["blocked_by"].explode().drop_nulls().to_list())
    # frequency caps, holds, unlawful sources, missing points and expired limitation
    assert {"CN.FREQ.UNANSWERED", "CN.FREQ.CONNECTED", "CN.HOLDS"} <= rules, rules
    assert {"CN.DATA.CONTACT_SOURCE", "RUN.NO_CONTACT_POINT"} <= rules, rules
    assert gated["allowed"].fill_null(False).any()
    assert gated["allowed"].is_null().any()  # legal review: not a contact
    carried_back = gated.join(day.carried, on=["loan_id", "action_index"], how="semi")
    assert carried_back.height > 0
    assert whole.assigned.height == day.accounts.height
    assert day.accounts["borrower_id"].n_unique() < day.accounts.height  # shared borrowers


@pytest.mark.parametrize("buckets", [1, 3, 8])
def test_bucket_by_bucket_equals_the_whole_book(
    day: DayFrames, whole: kernel.Decided, tmp_path: Path, buckets: int
) -> None:
    parts = _bucketed(day, tmp_path, buckets)
    assert kernel.buckets_in(tmp_path) == list(range(buckets))
    _assert_same(whole, parts)


def test_a_bucket_holds_all_of_a_borrowers_rows(day: DayFrames, tmp_path: Path) -> None:
    kernel.write_parquet(day, tmp_path, 5)
    seen: dict[str, set[int]] = {}
    for b in kernel.buckets_in(tmp_path):
        part = kernel.read_bucket(tmp_path, b)
        for name in kernel.TABLES:
            ids = set(getattr(part, name)["borrower_id"].to_list())
            assert not ids & seen.get(name, set()), name  # in one bucket only
            seen.setdefault(name, set()).update(ids)
            assert all(i % 5 == b for i in ids)
    for name in kernel.TABLES:
        assert seen[name] == set(getattr(day, name)["borrower_id"].to_list())


def test_the_export_gives_back_every_frame_as_it_was(day: DayFrames, tmp_path: Path) -> None:
    """Every column survives the Parquet path, the accounts' own delinquency ``bucket``
    (C, M1 ...) included: the partition column has a name of its own."""
    kernel.write_parquet(day, tmp_path, 4)
    parts = [kernel.read_bucket(tmp_path, b) for b in kernel.buckets_in(tmp_path)]
    conformed = day.conformed()
    for name in kernel.TABLES:
        back = pl.concat([getattr(p, name) for p in parts])
        want = getattr(conformed, name)
        key = [c for c in ("borrower_id", "loan_id", "kind", "at", "since", "action_index")
               if c in want.columns]  # fmt: skip
        assert back.sort(key, nulls_last=True).equals(want.sort(key, nulls_last=True)), name
    accounts = pl.concat([p.accounts for p in parts])
    assert accounts["bucket"].null_count() == 0 and "M1" in set(accounts["bucket"])


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(0, 2**32 - 1), borrowers=st.integers(1, 120), buckets=st.integers(1, 9))
def test_any_small_day_decides_the_same_in_any_number_of_buckets(
    tmp_path_factory: pytest.TempPathFactory, seed: int, borrowers: int, buckets: int
) -> None:
    frames = generate_day(seed, borrowers)
    root = tmp_path_factory.mktemp("export")
    _assert_same(_whole(frames), _bucketed(frames, root, buckets))
