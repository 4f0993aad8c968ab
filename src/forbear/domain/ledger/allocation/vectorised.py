"""The allocation rule over the whole book at once (:func:`allocate_book`), on the internal
line frame (one row per instalment of the effective schedule)."""

from __future__ import annotations

import polars as pl

from forbear.domain.ledger.allocation.components import COMPONENTS, CREDIT
from forbear.domain.ledger.arith import div_round_expr
from forbear.domain.ledger.schedules import (
    IO,
    amortise_frame,
    with_level,
)
from forbear.domain.ledger.schema import ALLOCATIONS
from forbear.domain.products import (
    Component,
    PrepaymentRule,
)

# ---------------------------------------------------------------------------- vectorised

# Internal line frame (one row per instalment of the effective schedule), sorted by
# (loan_id, seq): dates are Int32 days since the epoch so that day arithmetic is integer.
U = {c: f"u_{c.value}" for c in COMPONENTS}
POS = {c: f"pos_{c.value}" for c in COMPONENTS}
NO_EVENT = -(2**30)  # "before any event": earlier than every date the ledger sees


def unpaid_total() -> pl.Expr:
    return pl.sum_horizontal(*(pl.col(U[c]) for c in COMPONENTS))


def advance_expr(t: pl.Expr, prev: pl.Expr) -> list[pl.Expr]:
    """Late fee and penalty accrual between ``prev`` and ``t`` (see :meth:`LoanBook.advance`)."""
    deadline = pl.col("deadline")
    late = (prev <= deadline) & (deadline < t) & (unpaid_total() > 0)
    days = pl.max_horizontal(t - pl.max_horizontal(prev, deadline), 0).cast(pl.Int64)
    penalty = div_round_expr(
        pl.col(U[Component.PRINCIPAL]) * days * pl.col("penalty_rate_bp"),
        pl.col("penalty_den"),
        pl.col("rounding"),
    )
    return [
        (pl.col(U[Component.FEE]) + pl.when(late).then(pl.col("late_fee")).otherwise(0)).alias(
            U[Component.FEE]
        ),
        (pl.col(U[Component.PENALTY]) + penalty).alias(U[Component.PENALTY]),
    ]


def _exclusive_cumsum(value: pl.Expr) -> pl.Expr:
    """Sum of ``value`` over the earlier rows of the same loan (rows sorted by loan, seq).

    Written with a global cumulative sum and a forward fill rather than ``.over`` (no
    hashing): the frame is already sorted by loan.
    """
    running = value.cum_sum()
    start = pl.when(pl.col("_first")).then(running - value).forward_fill()
    return running - value - start


def _loan_total(value: pl.Expr) -> pl.Expr:
    """Sum of ``value`` over all rows of the same loan (rows sorted by loan)."""
    running = value.cum_sum()
    start = pl.when(pl.col("_first")).then(running - value).forward_fill()
    return pl.when(pl.col("_last")).then(running - start).backward_fill()


def _before_expr(component: Component) -> pl.Expr:
    """Money a payment spends before reaching ``component`` of this line (waterfall).

    instalment_first: everything owed on earlier lines, then the components before this
    one on this line; component_first: every earlier component on all due lines, then
    this component on earlier lines. The current instalment (``_cur``) comes last.
    """
    earlier = [o for o in COMPONENTS if o is not component]
    before = pl.col(POS[component])
    earlier_here = pl.sum_horizontal(
        *(
            pl.when(pl.col(POS[o]) < before).then(pl.col(f"o_{o.value}")).otherwise(0)
            for o in earlier
        )
    )
    earlier_all = pl.sum_horizontal(
        *(
            pl.when(pl.col(POS[o]) < before).then(pl.col(f"t_{o.value}")).otherwise(0)
            for o in earlier
        )
    )
    instalment_first = pl.col("c_total") + earlier_here
    component_first = pl.col(f"c_{component.value}") + earlier_all
    # the current instalment (the last line, if any) comes after every due line, in the
    # component order: the instalment-first formula (``t_*`` leave it out)
    return (
        pl.when(pl.col("_ifirst") | pl.col("_cur"))
        .then(instalment_first)
        .otherwise(component_first)
    )


def allocate_book(
    lines: pl.DataFrame, pays: pl.DataFrame, terms: pl.DataFrame, params: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Apply every payment of a book; returns the lines afterwards and the allocations.

    ``lines``: the working line frame (see ``U``/``POS``, dates as Int32 days, ``n_pay``,
    ``owed_from``); ``pays``: ``loan_id, payment_id, paid_on, amount, rank, prev`` (rank
    1-based in ``(paid_on, payment_id)`` order); ``terms``: the loan terms
    re-amortisation needs; ``params``: per loan, the terms penalty and the waterfall need.

    Iterates over the payment rank ``k``. A line takes part in allocation only from the
    first payment on or after its ``owed_from`` day (its due date; under
    current_instalment the previous line's due date, so that it takes part as the
    current instalment) until it is settled: its ``enter`` rank, found up front
    with one as-of join. So each step works on the owed and unpaid lines of the loans
    paying at that step, not on whole schedules. Lines not yet owed are touched only when
    their loan prepays: they then move to ``ahead`` (re-amortised), where they wait for
    their ``enter`` rank like the others.
    """
    last_rank = int(pays.select(pl.col("rank").max().fill_null(0)).item())
    never = last_rank + 1
    # the first payment rank of each (loan, day); ``pays`` is sorted by loan, day and id
    new_day = (pl.col("loan_id") != pl.col("loan_id").shift(1)) | (
        pl.col("paid_on") != pl.col("paid_on").shift(1)
    )
    firsts = pays.filter(new_day.fill_null(True)).select(
        "loan_id", pl.col("paid_on").cast(pl.Int32).alias("_t"), pl.col("rank").alias("enter")
    )
    # ``lines`` is sorted by (loan_id, seq), so ``owed_from`` is sorted within each loan,
    # which is all the as-of join needs; every frame below keeps that order.
    pending = (
        lines.join_asof(
            firsts,
            left_on="owed_from",
            right_on="_t",
            by="loan_id",
            strategy="forward",
            check_sortedness=False,
        )
        .drop("_t", "owed_from")
        .with_columns(pl.col("enter").fill_null(never).cast(pl.Int32))
    )
    parts = {
        int(key[0]): part
        for key, part in pending.partition_by("enter", as_dict=True, maintain_order=True).items()
    }
    empty = pending.clear()
    finished: list[pl.DataFrame] = []
    allocations: list[pl.DataFrame] = [pl.DataFrame(schema=ALLOCATIONS)]
    absorbed = pl.Series("loan_id", [], dtype=pl.Int64)  # loans whose future lines are in ahead
    due_open, ahead = empty, empty
    # the payments of each rank, split once (not a filter of every payment per rank)
    by_rank = {
        int(key[0]): part
        for key, part in pays.select(
            "loan_id",
            "payment_id",
            pl.col("paid_on").cast(pl.Int32).alias("t"),
            pl.col("prev").cast(pl.Int32).fill_null(NO_EVENT).alias("prev"),
            "amount",
            "rank",
        )
        .partition_by("rank", as_dict=True, maintain_order=True, include_key=False)
        .items()
    }
    lazy_params = params.lazy()
    for k in range(1, last_rank + 1):
        # the lines leaving (loans without a k-th payment), those open at step k and
        # those still ahead, and the k-th payments: one pass over the frames
        stay = pl.col("n_pay") >= k
        open_now, ahead_now = due_open.lazy(), ahead.lazy()
        entering = parts.get(k, empty).lazy()
        if len(absorbed):
            entering = entering.filter(~pl.col("loan_id").is_in(absorbed.implode()))
        left_open, left_ahead, due_open, ahead, pay = pl.collect_all(
            [
                open_now.filter(~stay),
                ahead_now.filter(~stay),
                pl.concat(
                    [
                        open_now.filter(stay),
                        entering,
                        ahead_now.filter(stay & (pl.col("enter") == k)),
                    ]
                ).sort("loan_id", "seq"),
                ahead_now.filter(stay & (pl.col("enter") != k)),
                by_rank[k].lazy().join(lazy_params, on="loan_id", how="left"),
            ],
            engine="in-memory",
        )
        finished += [left_open, left_ahead]
        due_open, done, allocated, excess = pay_step(due_open, pay)
        finished.append(done)
        allocations.append(allocated)
        if not excess.is_empty():
            ids = excess["loan_id"].implode()
            newly = excess.filter(~pl.col("loan_id").is_in(absorbed.implode()))["loan_id"]
            future = pl.concat(
                [
                    ahead.filter(pl.col("loan_id").is_in(ids)),
                    _rows_of(pending, newly).filter(pl.col("enter") > k),
                ]
            ).sort("loan_id", "seq")
            future, allocated = prepay_step(excess, future, terms)
            allocations.append(allocated)
            ahead = pl.concat([ahead.filter(~pl.col("loan_id").is_in(ids)), future])
            absorbed = pl.concat([absorbed, newly])
    untouched = parts.get(never, empty)
    if len(absorbed):
        untouched = untouched.filter(~pl.col("loan_id").is_in(absorbed.implode()))
    finished += [due_open, ahead, untouched]
    return pl.concat(finished).drop("enter"), pl.concat(allocations)


def _rows_of(frame: pl.DataFrame, loan_ids: pl.Series) -> pl.DataFrame:
    """The rows of ``frame`` (sorted by loan_id) for some loans, by binary search."""
    ids = loan_ids.sort()
    column = frame["loan_id"]
    bounds = pl.DataFrame(
        {
            "lo": column.search_sorted(ids, side="left"),
            "hi": column.search_sorted(ids, side="right"),
        }
    )
    rows = bounds.select(pl.int_ranges("lo", "hi").explode().drop_nulls().alias("row"))["row"]
    return frame[rows]


def pay_step(
    lines: pl.DataFrame, pay: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Apply the ``k``-th payment of each loan (``pay``: loan_id, payment_id, t, prev, amount
    and the loan's penalty and waterfall terms).

    ``lines`` (sorted by loan and seq) are the owed, unsettled lines of these loans: the
    due ones and, last, the current instalment (``due > t``) under current_instalment.
    Returns the lines still open, the lines now settled for good, the allocation rows,
    and the loans with money left over (``loan_id, payment_id, excess``).
    """
    # one query for the allocation itself, then one pass (collect_all) for its four
    # outputs: about 15 eager operations per payment rank before
    loan = pl.col("loan_id")
    x = (
        lines.lazy()
        .join(pay.lazy(), on="loan_id", how="inner", maintain_order="left")
        .with_columns(advance_expr(pl.col("t"), pl.col("prev")))
        .with_columns(
            [pl.col(U[c]).alias(f"o_{c.value}") for c in COMPONENTS],
            o_total=unpaid_total(),
            _first=(loan != loan.shift(1)).fill_null(True),
            _last=(loan != loan.shift(-1)).fill_null(True),
            _cur=pl.col("due") > pl.col("t"),
        )
        .with_columns(
            *(_exclusive_cumsum(pl.col(f"o_{c.value}")).alias(f"c_{c.value}") for c in COMPONENTS),
            *(
                _loan_total(
                    pl.when(pl.col("_cur")).then(0).otherwise(pl.col(f"o_{c.value}"))
                ).alias(f"t_{c.value}")
                for c in COMPONENTS
            ),
            c_total=_exclusive_cumsum(pl.col("o_total")),
        )
        .with_columns(
            [
                pl.min_horizontal(
                    pl.max_horizontal(pl.col("amount") - _before_expr(c), 0),
                    pl.col(f"o_{c.value}"),
                ).alias(f"a_{c.value}")
                for c in COMPONENTS
            ]
        )
        .with_columns([(pl.col(U[c]) - pl.col(f"a_{c.value}")).alias(U[c]) for c in COMPONENTS])
        .collect(engine="in-memory")  # rows in the order the eager steps kept
        .lazy()
    )
    allocs = (
        x.select(
            "payment_id",
            "loan_id",
            "seq",
            *(pl.col(f"a_{c.value}").alias(c.value) for c in COMPONENTS),
        )
        .unpivot(
            index=["payment_id", "loan_id", "seq"], variable_name="component", value_name="amount"
        )
        .filter(pl.col("amount") > 0)
        .cast(pl.Schema(ALLOCATIONS))
    )
    owed = x.group_by("loan_id").agg(owed=pl.col("o_total").sum())
    excess = (
        pay.lazy()
        .join(owed, on="loan_id", how="left")
        .select(
            "loan_id",
            "payment_id",
            pl.max_horizontal(pl.col("amount") - pl.col("owed").fill_null(0), 0).alias("excess"),
        )
        .filter(pl.col("excess") > 0)
    )
    settled = unpaid_total() == 0
    done = x.filter(settled).select(lines.columns)
    still = x.filter(~settled).select(lines.columns)
    still_df, done_df, allocs_df, excess_df = pl.collect_all(
        [still, done, allocs, excess], engine="in-memory"
    )
    return still_df, done_df, allocs_df, excess_df


def prepay_step(
    excess: pl.DataFrame, future: pl.DataFrame, terms: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Pay off or re-amortise (see :meth:`LoanBook._prepay`) the loans with money left over.

    ``future``: the not-yet-due lines of those loans, sorted by loan and seq. Returns
    their lines afterwards and the prepaid principal and credit allocations.
    """
    # three collects: the allocations with the loans to re-amortise, the levels and
    # rows (with_level, amortise_frame), the lines redone
    ahead = (
        future.lazy()
        .group_by("loan_id")
        .agg(
            future_principal=pl.col(U[Component.PRINCIPAL]).sum(),
            future_count=pl.len().cast(pl.Int32),
        )
    )
    level = (
        excess.lazy()
        .join(ahead, on="loan_id", how="left")
        .with_columns(pl.col("future_principal", "future_count").fill_null(0))
        .with_columns(payoff=pl.col("excess") >= pl.col("future_principal"))
    )
    none = pl.lit(None, dtype=pl.Int32).alias("seq")
    prepaid = level.select(
        "payment_id",
        "loan_id",
        none,
        pl.lit(Component.PRINCIPAL.value).alias("component"),
        pl.min_horizontal("excess", "future_principal").alias("amount"),
    )
    credit = level.select(
        "payment_id",
        "loan_id",
        none,
        pl.lit(CREDIT).alias("component"),
        (pl.col("excess") - pl.col("future_principal")).alias("amount"),
    )
    schema = pl.Schema(ALLOCATIONS)
    allocs_q = pl.concat([prepaid.cast(schema), credit.cast(schema)]).filter(pl.col("amount") > 0)

    shorten = (pl.col("prepayment") == PrepaymentRule.SHORTEN_TERM.value) & (pl.col("method") != IO)
    partial_q = (
        level.filter(~pl.col("payoff"))
        .join(terms.lazy(), on="loan_id", how="inner")
        .with_columns(
            balance=pl.col("future_principal") - pl.col("excess"),
            count=pl.col("future_count"),
            shorten=shorten,
        )
        .with_columns(
            lvl_balance=pl.when("shorten").then(pl.col("principal")).otherwise(pl.col("balance")),
            lvl_count=pl.when("shorten").then(pl.col("term_months")).otherwise(pl.col("count")),
        )
    )
    allocs, partial = pl.collect_all([allocs_q, partial_q], engine="in-memory")
    rows = amortise_frame(with_level(partial, balance="lvl_balance", count="lvl_count"))
    redone = (
        future.lazy()
        .with_columns(_j=pl.int_range(1, pl.len() + 1).over("loan_id").cast(pl.Int32))
        .join(
            rows.lazy().rename({"k": "_j", "principal": "_p", "interest": "_i"}),
            on=["loan_id", "_j"],
            how="inner",
            maintain_order="left",
        )
        .with_columns(
            pl.col("_p").alias(U[Component.PRINCIPAL]), pl.col("_i").alias(U[Component.INTEREST])
        )
        .select(future.columns)
        .collect(engine="in-memory")
    )
    return redone, allocs
