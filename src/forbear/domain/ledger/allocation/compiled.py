"""The allocation rule of :class:`~forbear.domain.ledger.allocation.LoanBook` as one
compiled loop over flat integer arrays (numba), for a whole book at once.

Loans are independent, and within a loan the rule is sequential (penalty depends on when
principal was paid), so the loop walks loan by loan and, within a loan, payment by
payment in ``(paid_on, payment_id)`` order, exactly as :meth:`LoanBook.pay` does. Every
amount is an integer number of fen and every rounding is :func:`forbear.domain.money.
div_round`'s rule, in int64.

The layout (see :func:`forbear.domain.ledger.allocation.walk.walk_book`, which builds it
from frames): loans sorted by ``loan_id``; their instalments (lines) in one array sorted
by loan and seq, loan ``i`` owning rows ``line_start[i]:line_start[i+1]`` (CSR offsets);
their payments likewise in ``pay_start``. Product terms are small per-product arrays
indexed by each loan's ``prod``. Dates are day numbers (days since 1970-01-01).

The one amount that int64 cannot compute directly is the 等额本息 level payment
``round(B r / (1 - (1+r)^-n))``, whose exact fraction has big integers. The loop takes
it from ``factor[row, n]``, the correctly rounded float of ``r / (1 - (1+r)^-n)`` for the
loan's rate (``rate_row``): ``B * factor`` is within ``2^-51`` of the exact value
relative, so unless its fraction lies within ``2^-40`` (relative) of an integer or of a
half, the float decides the rounding exactly; otherwise (rare) the exact big-integer
:func:`forbear.domain.ledger.arith.level_payment` is called.

Component indices: 0 penalty, 1 fee, 2 interest, 3 principal (``COMPONENTS``), 4 credit.
"""

from __future__ import annotations

import numpy as np

from forbear.domain.jit import numba
from forbear.domain.ledger.arith import MONTHLY_RATE_DEN, level_payment
from forbear.domain.money import Rounding

HALF_UP, DOWN, HALF_EVEN = 0, 1, 2  # rounding codes (``ROUNDING_CODES``)
EI, EP, IO = 0, 1, 2  # method codes (``METHOD_CODES``)
PENALTY, FEE, INTEREST, PRINCIPAL, CREDIT = 0, 1, 2, 3, 4
NO_LINE = -1  # an allocation's line: prepaid principal and credit belong to none
NO_DAY = -(2**62)  # "before any event" / "no such date" in the outputs below
TIE_MARGIN = 2.0**-40

_ROUNDING = {HALF_UP: Rounding.HALF_UP, DOWN: Rounding.DOWN, HALF_EVEN: Rounding.HALF_EVEN}


def exact_level(balance: int, rate: int, n: int, rounding: int) -> int:
    """:func:`level_payment` in Python's big integers: the loop's rare exact case."""
    return level_payment(balance, rate, n, _ROUNDING[rounding])


@numba.njit(cache=True, nogil=True)
def div_round(num: int, den: int, rounding: int) -> int:
    """:func:`forbear.domain.money.div_round` for ``num >= 0`` and ``den > 0``."""
    q = num // den
    twice = 2 * (num - q * den)
    if rounding == DOWN or twice == 0:
        return q
    if twice > den:
        return q + 1
    if twice < den:
        return q
    if rounding == HALF_UP:
        return q + 1
    return q + (q % 2)


@numba.njit(cache=True)
def level_ei(balance: int, rate: int, n: int, rounding: int, factor: float) -> int:
    """The 等额本息 level payment (:func:`level_payment`), exactly; ``factor`` is the
    correctly rounded float of ``r / (1 - (1+r)^-n)``."""
    if rate == 0:
        return div_round(balance, n, rounding)
    x = balance * factor
    whole = np.floor(x)
    frac = x - whole
    margin = x * TIE_MARGIN + TIE_MARGIN
    if frac < margin or frac > 1.0 - margin or abs(frac - 0.5) < margin:
        with numba.objmode(level="int64"):
            level = exact_level(balance, rate, n, rounding)
        return level
    q = int(whole)
    if rounding == DOWN or frac < 0.5:
        return q
    return q + 1


@numba.njit(cache=True, nogil=True)
def level_for(
    method: int, balance: int, rate: int, n: int, rounding: int, factor: np.ndarray, row: int
) -> int:
    """:func:`forbear.domain.ledger.schedules.level_for`."""
    if method == EI:
        return level_ei(balance, rate, n, rounding, factor[row, n])
    if method == EP:
        return div_round(balance, n, rounding)
    return 0


@numba.njit(cache=True, nogil=True)
def advance(
    u: np.ndarray,
    due: np.ndarray,
    lo: int,
    hi: int,
    grace: int,
    prev: int,
    t: int,
    late_fee: int,
    pen_bp: int,
    pen_den: int,
    rounding: int,
) -> None:
    """:meth:`LoanBook.advance` on lines ``lo:hi``: the late fee of a line whose deadline
    ended in ``[prev, t)`` with something unpaid, and penalty on unpaid principal for the
    days of ``(prev, t]`` after the deadline."""
    for i in range(lo, hi):
        deadline = due[i] + grace
        if deadline >= t:
            continue  # neither a late fee nor a day of penalty yet
        if prev <= deadline and u[i, 0] + u[i, 1] + u[i, 2] + u[i, 3] > 0:
            u[i, FEE] += late_fee
        days = t - max(prev, deadline)
        if u[i, PRINCIPAL] > 0:
            u[i, PENALTY] += div_round(u[i, PRINCIPAL] * days * pen_bp, pen_den, rounding)


@numba.njit(cache=True, nogil=True)
def walk(
    line_start: np.ndarray,
    pay_start: np.ndarray,
    prod: np.ndarray,
    loan_principal: np.ndarray,
    loan_term: np.ndarray,
    loan_rate: np.ndarray,
    rate_row: np.ndarray,
    due: np.ndarray,
    fee: np.ndarray,
    interest: np.ndarray,
    principal: np.ndarray,
    paid_on: np.ndarray,
    amount: np.ndarray,
    p_pen_bp: np.ndarray,
    p_pen_den: np.ndarray,
    p_grace: np.ndarray,
    p_late_fee: np.ndarray,
    p_rounding: np.ndarray,
    p_ifirst: np.ndarray,
    p_order: np.ndarray,
    p_current: np.ndarray,
    p_shorten: np.ndarray,
    p_method: np.ndarray,
    factor: np.ndarray,
    as_of: int,
) -> tuple[np.ndarray, ...]:
    """Apply every payment of every loan, then advance each loan to ``as_of``.

    Returns ``u`` (unpaid penalty, fee, interest, principal of every line afterwards),
    ``live_end`` (loan ``i``'s lines still in its schedule are
    ``line_start[i]:live_end[i]``: a payoff or a shortened term drops the last ones), the
    allocations (``a_pay`` the payment's row, ``a_line`` the line's row or ``NO_LINE``,
    ``a_comp``, ``a_amount``; payment order, then the waterfall's), and per loan the
    figures of its state (see :func:`forbear.domain.ledger.state.state_of`): the oldest
    unpaid due date before ``as_of`` and the next one on or after it (``NO_DAY`` when
    none), the amount unpaid on that next date, the total unpaid, the outstanding
    principal, the overdue components (``overdue[i, c]``), the credit, what was paid and
    the day of the last payment (``NO_DAY`` when none).
    """
    n_loans = prod.shape[0]
    n_pays = paid_on.shape[0]
    n_lines = due.shape[0]
    u = np.empty((n_lines, 4), dtype=np.int64)
    for i in range(n_lines):
        u[i, PENALTY] = 0
        u[i, FEE] = fee[i]
        u[i, INTEREST] = interest[i]
        u[i, PRINCIPAL] = principal[i]
    live_end = line_start[1:].copy()
    capacity = 3 * n_pays + 16  # books average 2.5-3 allocations a payment: grown if not
    a_pay = np.empty(capacity, dtype=np.int64)
    a_line = np.empty(capacity, dtype=np.int64)
    a_comp = np.empty(capacity, dtype=np.int8)
    a_amount = np.empty(capacity, dtype=np.int64)
    n_alloc = 0
    oldest = np.full(n_loans, NO_DAY, dtype=np.int64)
    next_due = np.full(n_loans, NO_DAY, dtype=np.int64)
    next_amount = np.zeros(n_loans, dtype=np.int64)
    unpaid = np.zeros(n_loans, dtype=np.int64)
    outstanding = np.zeros(n_loans, dtype=np.int64)
    overdue = np.zeros((n_loans, 4), dtype=np.int64)
    credit = np.zeros(n_loans, dtype=np.int64)
    paid = np.zeros(n_loans, dtype=np.int64)
    last_paid = np.full(n_loans, NO_DAY, dtype=np.int64)
    for li in range(n_loans):
        q = prod[li]
        grace = p_grace[q]
        late_fee = p_late_fee[q]
        pen_bp = p_pen_bp[q]
        pen_den = p_pen_den[q]
        rounding = p_rounding[q]
        order = p_order[q]
        lo = line_start[li]  # lines before ``lo`` are settled and were due: never change
        hi = live_end[li]
        prev = NO_DAY
        for j in range(pay_start[li], pay_start[li + 1]):
            # room for this payment's allocations: at most 4 per owed line, and 2
            need = n_alloc + 4 * (hi - lo) + 2
            if need > capacity:
                capacity = max(capacity + capacity // 2, need)
                a_pay = _grown(a_pay, capacity, n_alloc)
                a_line = _grown(a_line, capacity, n_alloc)
                a_comp = _grown(a_comp, capacity, n_alloc)
                a_amount = _grown(a_amount, capacity, n_alloc)
            t = paid_on[j]
            paid[li] += amount[j]
            last_paid[li] = t  # payments come in day order
            advance(u, due, lo, hi, grace, prev, t, late_fee, pen_bp, pen_den, rounding)
            prev = t
            n_due = 0
            for i in range(line_start[li], hi):
                if due[i] <= t:
                    n_due += 1
            due_end = line_start[li] + n_due
            owed_end = due_end
            if p_current[q] and owed_end < hi:
                owed_end += 1  # the current instalment
            left = amount[j]
            # the three waterfalls below repeat their few lines on purpose: a helper
            # function taking the arrays cost 0.42-0.47 against 0.23-0.25 CPU s for the
            # 100k book's 1M payments (inline="always" too)
            if p_ifirst[q]:
                for i in range(lo, due_end):
                    for k in range(4):
                        c = order[k]
                        take = min(left, u[i, c])
                        if take > 0:
                            u[i, c] -= take
                            left -= take
                            a_pay[n_alloc] = j
                            a_line[n_alloc] = i
                            a_comp[n_alloc] = c
                            a_amount[n_alloc] = take
                            n_alloc += 1
            else:
                for k in range(4):
                    c = order[k]
                    for i in range(lo, due_end):
                        take = min(left, u[i, c])
                        if take > 0:
                            u[i, c] -= take
                            left -= take
                            a_pay[n_alloc] = j
                            a_line[n_alloc] = i
                            a_comp[n_alloc] = c
                            a_amount[n_alloc] = take
                            n_alloc += 1
            for i in range(due_end, owed_end):
                for k in range(4):
                    c = order[k]
                    take = min(left, u[i, c])
                    if take > 0:
                        u[i, c] -= take
                        left -= take
                        a_pay[n_alloc] = j
                        a_line[n_alloc] = i
                        a_comp[n_alloc] = c
                        a_amount[n_alloc] = take
                        n_alloc += 1
            if left > 0:
                # a prepayment (:meth:`LoanBook._prepay`) of the lines after the owed ones
                owed = 0
                for i in range(owed_end, hi):
                    owed += u[i, PRINCIPAL]
                if left >= owed:
                    if owed > 0:
                        a_pay[n_alloc] = j
                        a_line[n_alloc] = NO_LINE
                        a_comp[n_alloc] = PRINCIPAL
                        a_amount[n_alloc] = owed
                        n_alloc += 1
                    if left > owed:
                        a_pay[n_alloc] = j
                        a_line[n_alloc] = NO_LINE
                        a_comp[n_alloc] = CREDIT
                        a_amount[n_alloc] = left - owed
                        n_alloc += 1
                        credit[li] += left - owed
                    hi = owed_end
                else:
                    a_pay[n_alloc] = j
                    a_line[n_alloc] = NO_LINE
                    a_comp[n_alloc] = PRINCIPAL
                    a_amount[n_alloc] = left
                    n_alloc += 1
                    method = p_method[q]
                    rate = loan_rate[li]
                    balance = owed - left
                    count = hi - owed_end
                    shorten = p_shorten[q] and method != IO
                    if shorten:
                        level = level_for(
                            method,
                            loan_principal[li],
                            rate,
                            loan_term[li],
                            rounding,
                            factor,
                            rate_row[li],
                        )
                    else:
                        level = level_for(
                            method, balance, rate, count, rounding, factor, rate_row[li]
                        )
                    hi = owed_end + _amortise(
                        u, owed_end, balance, level, method, rate, count, rounding, shorten
                    )
            # settled lines that were due stay settled: later steps can skip them
            while lo < due_end and u[lo, 0] + u[lo, 1] + u[lo, 2] + u[lo, 3] == 0:
                lo += 1
        live_end[li] = hi
        advance(u, due, lo, hi, grace, prev, as_of, late_fee, pen_bp, pen_den, rounding)
        for i in range(lo, hi):
            left_here = u[i, 0] + u[i, 1] + u[i, 2] + u[i, 3]
            unpaid[li] += left_here
            outstanding[li] += u[i, PRINCIPAL]
            if due[i] + grace < as_of:
                for c in range(4):
                    overdue[li, c] += u[i, c]
            if left_here > 0:
                if due[i] < as_of:
                    if oldest[li] == NO_DAY or due[i] < oldest[li]:
                        oldest[li] = due[i]
                elif next_due[li] == NO_DAY or due[i] < next_due[li]:
                    next_due[li] = due[i]
                    next_amount[li] = left_here
                elif due[i] == next_due[li]:
                    next_amount[li] += left_here
    return (
        u,
        live_end,
        a_pay[:n_alloc],
        a_line[:n_alloc],
        a_comp[:n_alloc],
        a_amount[:n_alloc],
        oldest,
        next_due,
        next_amount,
        unpaid,
        outstanding,
        overdue,
        credit,
        paid,
        last_paid,
    )


@numba.njit(cache=True, nogil=True)
def settlement(
    line_start: np.ndarray,
    pay_start: np.ndarray,
    a_pay: np.ndarray,
    a_line: np.ndarray,
    a_comp: np.ndarray,
    a_amount: np.ndarray,
    paid_on: np.ndarray,
    due: np.ndarray,
    start: np.ndarray,
    written_off: np.ndarray,
    unpaid: np.ndarray,
    oldest: np.ndarray,
    as_of: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The settlement history (:mod:`forbear.domain.ledger.settled`) from :func:`walk`'s
    allocations and figures: the day each line was settled (``NO_DAY``: not settled by
    ``as_of``) and the principal each payment paid. ``start`` and ``written_off`` are the
    loans' days (``NO_DAY``: never written off)."""
    n_loans = line_start.shape[0] - 1
    line_paid = np.full(due.shape[0], NO_DAY, dtype=np.int64)
    prepaid = np.full(n_loans, NO_DAY, dtype=np.int64)
    pay_principal = np.zeros(paid_on.shape[0], dtype=np.int64)
    pay_loan = np.empty(paid_on.shape[0], dtype=np.int64)
    for li in range(n_loans):
        for j in range(pay_start[li], pay_start[li + 1]):
            pay_loan[j] = li
    for a in range(a_pay.shape[0]):
        j = a_pay[a]
        t = paid_on[j]
        i = a_line[a]
        if i != NO_LINE:
            line_paid[i] = max(line_paid[i], t)
        elif a_comp[a] == PRINCIPAL:
            prepaid[pay_loan[j]] = max(prepaid[pay_loan[j]], t)
        if a_comp[a] == PRINCIPAL:
            pay_principal[j] += a_amount[a]
    settled_on = np.full(due.shape[0], NO_DAY, dtype=np.int64)
    for li in range(n_loans):
        gone = written_off[li] != NO_DAY and written_off[li] <= as_of
        closed = unpaid[li] == 0 and not gone
        fallback = prepaid[li] if prepaid[li] != NO_DAY else start[li]
        for i in range(line_start[li], line_start[li + 1]):
            if closed or (due[i] < as_of and (oldest[li] == NO_DAY or due[i] < oldest[li])):
                settled_on[i] = line_paid[i] if line_paid[i] != NO_DAY else fallback
    return settled_on, pay_principal


@numba.njit(cache=True, nogil=True)
def owners(rows: np.ndarray, loan_id: np.ndarray) -> np.ndarray:
    """Each row's loan: its index in ``loan_id`` (sorted, distinct), -1 when not there.

    Through a table over the ids' span when it is not much wider than the loans (a book
    read by id range: one lookup a row, wherever the row's loan is), else by bisection.
    """
    n = loan_id.shape[0]
    out = np.full(rows.shape[0], -1, dtype=np.int64)
    if n == 0:
        return out
    lo, hi = loan_id[0], loan_id[n - 1]
    if hi - lo < 4 * n + 1_000_000:
        table = np.full(hi - lo + 1, -1, dtype=np.int64)
        for i in range(n):
            table[loan_id[i] - lo] = i
        for r in range(rows.shape[0]):
            if lo <= rows[r] <= hi:
                out[r] = table[rows[r] - lo]
        return out
    at = np.searchsorted(loan_id, rows)
    for r in range(rows.shape[0]):
        if at[r] < n and loan_id[at[r]] == rows[r]:
            out[r] = at[r]
    return out


@numba.njit(cache=True, nogil=True)
def group(
    owner: np.ndarray, n_groups: int, first: np.ndarray, second: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The rows of each group in ``(first, second)`` order: ``order`` (row numbers) and
    CSR offsets ``start`` (group ``g``'s rows are ``order[start[g]:start[g+1]]``); rows
    whose ``owner`` is negative belong to no group and are left out.

    A counting sort by group, then within each group an insertion sort (a loan's
    instalments or payments: a handful, usually in order already) or, for a long group,
    two stable sorts.
    """
    count = np.zeros(n_groups + 1, dtype=np.int64)
    for i in range(owner.shape[0]):
        if owner[i] >= 0:
            count[owner[i] + 1] += 1
    start = np.cumsum(count)
    fill = start[:-1].copy()
    order = np.empty(start[-1], dtype=np.int64)
    for i in range(owner.shape[0]):
        g = owner[i]
        if g >= 0:
            order[fill[g]] = i
            fill[g] += 1
    for g in range(n_groups):
        lo, hi = start[g], start[g + 1]
        if hi - lo > 64:
            rows = order[lo:hi]
            rows = rows[np.argsort(second[rows], kind="mergesort")]
            order[lo:hi] = rows[np.argsort(first[rows], kind="mergesort")]
            continue
        for a in range(lo + 1, hi):
            x = order[a]
            b = a - 1
            while b >= lo and (
                first[order[b]] > first[x]
                or (first[order[b]] == first[x] and second[order[b]] > second[x])
            ):
                order[b + 1] = order[b]
                b -= 1
            order[b + 1] = x
    return order, start


@numba.njit(cache=True, nogil=True)
def _grown(values: np.ndarray, capacity: int, used: int) -> np.ndarray:
    out = np.empty(capacity, dtype=values.dtype)
    out[:used] = values[:used]
    return out


@numba.njit(cache=True, nogil=True)
def _amortise(
    u: np.ndarray,
    first: int,
    balance: int,
    level: int,
    method: int,
    rate: int,
    count: int,
    rounding: int,
    shorten: bool,
) -> int:
    """:func:`forbear.domain.ledger.schedules.amortise` written into the principal and
    interest of lines ``first:first+count``; returns how many lines it kept."""
    remaining = balance
    for k in range(1, count + 1):
        i = first + k - 1
        line_interest = div_round(remaining * rate, MONTHLY_RATE_DEN, rounding)
        if k == count:
            line_principal = remaining
        elif method == EI:
            line_principal = min(max(level - line_interest, 0), remaining)
        elif method == EP:
            line_principal = min(level, remaining)
        else:
            line_principal = 0
        u[i, PRINCIPAL] = line_principal
        u[i, INTEREST] = line_interest
        remaining -= line_principal
        if shorten and remaining == 0:
            return k
    return count
