"""The daily run's decision logic in DuckDB SQL: the benchmark's ``duckdb`` engine.

Written as a competent engineer would write it against the same Parquet export, without
Forbear's kernel: the strategy's segments become one ``CASE WHEN`` generated from the
strategy file's conditions (so it follows the YAML), the arm is the same splitmix64 hash
in 64-bit integer SQL, the day's actions are a join with the treatments' action table,
and the compliance gate's rules for these inputs are SQL over the plan, the holds, the
flags and the day's slice of the contact history. Capacity allocation is the same Python
function as every engine's (:func:`forbear.domain.capacity.allocate`), fed by the SQL.

Rules the SQL reproduces (CN pack, the lender's default configuration): quiet hours in
the debtor's zone, holds (every kind's scope, complaint holds as configured), contact-point
provenance, agency notice and scope, assignment notice, limitation, the third-party
"no demand" / "no disclosure" / refusal rules, and both daily frequency caps counted per
debtor and local day with earlier planned contacts counting in plan order, plus the run's
own "no contact point" block. Not reproduced: the third-party lost-contact gate
(CN.3P.LOST_CONTACT_GATE: the daily plan contacts debtors only, so it never applies),
public holidays (off in the pack) and the US rules. ``earliest_allowed_at`` is the
latest lifting time of the blocks moved into the next contact window once, then past an
unannounced assignment (the kernel repeats the window step up to three times).
"""

from __future__ import annotations

import time as clock
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import polars as pl

from forbear.domain.compliance.config import CompiledRules
from forbear.domain.strategy import conditions as cond
from forbear.domain.strategy.compile import ARM_RESOLUTION, LEGAL_MIN_DPD, _arms, experiment_seed
from forbear.domain.strategy.schema import (
    CONTROL_ARM,
    DEMANDS,
    NO_SEGMENT,
    PLAN_SEGMENT,
    PLAN_TREATMENT,
)

_M32 = 4_294_967_295
_2_32 = 4_294_967_296
_2_64 = 18_446_744_073_709_551_616
CHANNEL_KINDS = {
    "call": ("phone", True),
    "ai_call": ("phone", True),
    "sms": ("phone", True),
    "email": ("email", True),
    "im": (None, False),
    "app_push": (None, False),
    "letter": ("address", False),
    "visit": ("address", False),
}
NO_CONTACT_POINT = "RUN.NO_CONTACT_POINT"


def _q(value: object) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _list(values: object) -> str:
    return "(" + ", ".join(_q(v) for v in sorted(map(str, values))) + ")"  # type: ignore[call-overload]


def condition_sql(c: cond.Condition) -> str:
    """A segment condition as a SQL boolean that is never NULL (a comparison with a null
    field does not hold; ``not`` of it does), like :func:`conditions.to_expr`."""
    if isinstance(c, cond.Always):
        return _q(c.value)
    if isinstance(c, cond.Node):
        if c.op == "not":
            return f"(NOT {condition_sql(c.children[0])})"
        joiner = " AND " if c.op == "all" else " OR "
        return "(" + joiner.join(condition_sql(k) for k in c.children) + ")"
    v = c.value
    if isinstance(v, tuple):
        op = "IN" if c.op == "in" else "NOT IN"
        return f"COALESCE({c.field} {op} ({', '.join(_q(x) for x in v)}), FALSE)"
    op = {"==": "="}.get(c.op, c.op)
    return f"COALESCE({c.field} {op} {_q(v)}, FALSE)"


def _mul64(a: str, c: int) -> str:
    """``a * c mod 2^64`` for a UBIGINT column and a constant, in HUGEINT arithmetic
    (DuckDB raises on UBIGINT overflow instead of wrapping)."""
    lo, hi = c & _M32, c >> 32
    a_lo, a_hi = f"({a} & {_M32})::HUGEINT", f"({a} >> 32)::HUGEINT"
    return (
        f"((({a_lo} * {lo}) + ((({a_lo} * {hi}) + ({a_hi} * {lo})) % {_2_32}) * {_2_32})"
        f" % {_2_64}::HUGEINT)::UBIGINT"
    )


def assign_sql(strategy: Any, source: str) -> str:
    """SELECT: every account with ``segment, arm, treatment`` (first matching segment wins;
    the built-in plan-only segment first; arms by splitmix64 of loan_id ^ seed)."""
    spec = strategy.spec
    seg = [
        "CASE WHEN (COALESCE(active_plan, FALSE) OR COALESCE(active_promise, FALSE))"
        f" AND NOT COALESCE(hold_any, FALSE) THEN {_q(PLAN_SEGMENT)}"
    ]
    seg += [
        f" WHEN {condition_sql(strategy.conditions[s.id])} THEN {_q(s.id)}" for s in spec.segments
    ]
    seg.append(f" ELSE {_q(NO_SEGMENT)} END")
    # splitmix64, one step per projection so each intermediate is computed once
    x = "xor(loan_id::UBIGINT, seed)"
    arm_cases, treat_cases = [], [f"WHEN segment = {_q(PLAN_SEGMENT)} THEN {_q(PLAN_TREATMENT)}"]
    seeds = []
    for x_spec in spec.experiments:
        arms = _arms(x_spec.arms)
        seeds.append(f"WHEN {_q(x_spec.segment)} THEN {experiment_seed(x_spec.id)}::UBIGINT")
        pick_a = " ".join(f"WHEN slot < {a.upto} THEN {_q(a.name)}" for a in arms)
        pick_t = " ".join(f"WHEN slot < {a.upto} THEN {_q(a.treatment)}" for a in arms)
        arm_cases.append(f"WHEN segment = {_q(x_spec.segment)} THEN CASE {pick_a} END")
        treat_cases.append(f"WHEN segment = {_q(x_spec.segment)} THEN CASE {pick_t} END")
    treat_cases += [f"WHEN segment = {_q(s.id)} THEN {_q(s.treatment)}" for s in spec.segments]
    arm = f"CASE {' '.join(arm_cases)} END" if arm_cases else "NULL::VARCHAR"
    seed = f"CASE segment {' '.join(seeds)} END" if seeds else "NULL::UBIGINT"
    z0 = f"((({x})::HUGEINT + {0x9E3779B97F4A7C15}) % {_2_64}::HUGEINT)::UBIGINT"
    return f"""
    WITH s0 AS (SELECT *, {"".join(seg)} AS segment FROM {source}),
    s1 AS (SELECT *, {seed} AS seed FROM s0),
    s2 AS (SELECT *, CASE WHEN seed IS NOT NULL THEN {z0} END AS z FROM s1),
    s3 AS (SELECT * REPLACE ({_mul64("xor(z, z >> 30)", 0xBF58476D1CE4E5B9)} AS z) FROM s2),
    s4 AS (SELECT * REPLACE ({_mul64("xor(z, z >> 27)", 0x94D049BB133111EB)} AS z) FROM s3),
    s5 AS (SELECT * EXCLUDE (z, seed), xor(z, z >> 31) % {ARM_RESOLUTION} AS slot FROM s4)
    SELECT * EXCLUDE (slot), {arm} AS arm, CASE {" ".join(treat_cases)} END AS treatment
    FROM s5"""


def days_sql(strategy: Any) -> str:
    """Days in the segment: the given value, else estimated from the segment's entry
    bound on ``dpd`` or ``days_to_due`` (as the compiled strategy does)."""
    cases = []
    for s in strategy.spec.segments:
        c = strategy.conditions[s.id]
        lo = cond.lower_bound(c, "dpd")
        hi = cond.upper_bound(c, "days_to_due")
        if lo is not None:
            est = f"dpd - {int(lo)}"
        elif hi is not None:
            est = f"{int(hi)} - days_to_due"
        else:
            continue
        cases.append(f"WHEN segment = {_q(s.id)} THEN CASE WHEN {est} < 0 THEN 0 ELSE {est} END")
    est_sql = f"CASE {' '.join(cases)} ELSE 0 END" if cases else "0"
    return f"COALESCE(days_in_segment, ({est_sql})::INTEGER)"


def actions_sql(strategy: Any, as_of: date, root: Path) -> str:
    """The day's actions (yesterday's carried ones re-enter unless repeated today), with
    the plan order ``contact_id`` (row number by loan and action index)."""
    demands = _list(p.value for p in DEMANDS)
    d = f"DATE '{as_of.isoformat()}'"
    return f"""
    WITH a AS (SELECT *, {days_sql(strategy)} AS days FROM assigned
               WHERE treatment IN (SELECT treatment FROM treat_actions)),
    today AS (
      SELECT a.loan_id, a.borrower_id, a.segment, a.arm, a.treatment, t.action_index,
             t.channel, t.template, t.purpose, t.purpose IN {demands} AS is_demand,
             (t.legally_required::INTEGER * 1000
              + LEAST(GREATEST(COALESCE(a.dpd, 0), 0), 999))::BIGINT AS priority
      FROM a JOIN treat_actions t ON t.treatment = a.treatment
      WHERE COALESCE(t.day = a.days OR t.on_dpd = a.dpd OR t.on_days_to_due = a.days_to_due,
                     FALSE)
        AND NOT ((t.stop_payment AND COALESCE(a.last_payment_date IS NOT NULL
                                              AND a.last_payment_date >= {d} - a.days, FALSE))
                 OR (t.stop_promise AND COALESCE(a.active_promise, FALSE))
                 OR (t.stop_plan AND COALESCE(a.active_plan, FALSE)))
        AND (COALESCE(a.arm <> {_q(CONTROL_ARM)}, TRUE) OR t.legally_required)
        AND (NOT (t.channel = 'legal_review' OR t.purpose = 'legal')
             OR COALESCE(a.dpd >= {LEGAL_MIN_DPD} AND NOT COALESCE(a.hold_any, TRUE)
                         AND NOT COALESCE(a.limitation_expired, TRUE), FALSE))
    ),
    carried AS (
      SELECT c.loan_id, c.borrower_id, c.segment, c.arm, c.treatment, c.action_index::INTEGER,
             c.channel, c.template, c.purpose, c.is_demand, c.priority
      FROM read_parquet('{root / "carried.parquet"}') c
      WHERE NOT EXISTS (SELECT 1 FROM today t
                        WHERE t.loan_id = c.loan_id AND t.action_index = c.action_index)
        AND c.loan_id IN (SELECT loan_id FROM read_parquet('{root / "accounts.parquet"}'))
    ),
    both_ AS (SELECT * FROM today UNION ALL SELECT * FROM carried)
    SELECT *, (row_number() OVER (ORDER BY loan_id, action_index) - 1)::BIGINT AS contact_id
    FROM both_"""


def plan_sql(root: Path, as_of: date, hour: time, zones: list[str]) -> str:
    local = datetime.combine(as_of, hour).isoformat(sep=" ")
    at = " ".join(f"WHEN {_q(z)} THEN timezone({_q(z)}, TIMESTAMP '{local}')" for z in zones)
    kinds = ", ".join(
        f"({_q(c)}, {_q(k) if k else 'NULL'}, {_q(n)})" for c, (k, n) in CHANNEL_KINDS.items()
    )
    return f"""
    WITH kinds(channel, kind, needs) AS (VALUES {kinds}),
    pts AS (SELECT borrower_id, kind, contact_point_id, provenance
            FROM read_parquet('{root / "points.parquet"}')
            WHERE borrower_id IN (SELECT borrower_id FROM actions)),
    zs AS (SELECT borrower_id, timezone FROM read_parquet('{root / "zones.parquet"}')
           WHERE borrower_id IN (SELECT borrower_id FROM actions))
    SELECT a.contact_id, a.loan_id, a.borrower_id, pt.contact_point_id, a.channel,
           'debtor' AS party, pt.provenance,
           CASE z.timezone {at} END AS "at", z.timezone, NULL::BIGINT AS agency_id,
           TRUE AS discloses_debt, a.is_demand,
           k.needs AND pt.contact_point_id IS NULL AS needs_point_missing
    FROM actions a
    JOIN kinds k ON k.channel = a.channel
    LEFT JOIN pts pt ON pt.borrower_id = a.borrower_id AND pt.kind = k.kind
    LEFT JOIN zs z ON z.borrower_id = a.borrower_id"""


def _windows(rule: Any, sod: str) -> str:
    return (
        "("
        + " OR ".join(
            f"({sod} >= {w.start * 60} AND {sod} < {w.end * 60})" for w in rule.params["windows"]
        )
        + ")"
    )


def gate_sql(root: Path, rules: CompiledRules) -> tuple[str, list[str]]:
    """SELECT: ``contact_id, allowed, blocked_by, earliest_allowed_at`` per planned contact
    that has its contact point; the rule ids it may name."""
    one = {kind: rules.active(kind) for kind in _KINDS}
    checks: list[tuple[str, str, str]] = []  # rule id, block (SQL), earliest (SQL or NULL)
    for r in one["quiet_hours"]:
        checks.append(
            (
                r.id,
                f"(channel IN {_list(r.params['channels'])} AND NOT {_windows(r, 'sod')})",
                '"at"',
            )
        )
    for r in one["hold"]:
        checks.append((r.id, f"COALESCE(hold_{_ident(r.id)}, FALSE)", "NULL"))
    for r in one["contact_source"]:
        lawful = _list(r.params["lawful"])
        checks.append(
            (
                r.id,
                f"(contact_point_id IS NOT NULL AND (provenance IS NULL"
                f" OR provenance NOT IN {lawful}))",
                "NULL",
            )
        )
    for r in one["agency_notify"]:
        checks.append(
            (
                r.id,
                '(agency_id IS NOT NULL AND (f_notified IS NULL OR f_notified > "at"))',
                "f_notified",
            )
        )
    for r in one["agency_scope"]:
        checks.append(
            (
                r.id,
                "(agency_id IS NOT NULL AND (f_agency IS NULL OR f_agency <> agency_id))",
                "NULL",
            )
        )
    for r in one["assignment_notice"]:
        checks.append(
            (
                r.id,
                '(f_assigned IS NOT NULL AND f_assigned <= "at"'
                ' AND (f_assign_notified IS NULL OR f_assign_notified > "at"))',
                "f_assign_notified",
            )
        )
    for r in one["limitation"]:
        checks.append(
            (
                r.id,
                f"COALESCE(demand AND day > GREATEST(f_due, f_demand::DATE)"
                f" + INTERVAL {int(r.params['years'])} YEAR, FALSE)",
                "NULL",
            )
        )
    for r in one["third_party_gate"]:
        party = f"party IN {_list(r.params['parties'])}"
        check = r.params["check"]
        if check == "no_demand":
            checks.append((r.id, f"({party} AND demand)", "NULL"))
        elif check == "no_disclose":
            checks.append((r.id, f"({party} AND disclose)", "NULL"))
        elif check == "refusal":
            checks.append(
                (r.id, f"(({party} AND refused IS NOT NULL) OR COALESCE(cp_hold, FALSE))", "NULL")
            )
        # lost_contact: not reproduced (debtor-only plans; see the module docstring)
    static = " OR ".join(b for _, b, _ in checks) or "FALSE"
    freq: list[tuple[str, str, str]] = []
    caps = []
    for r in one["cap_unanswered_per_number_per_day"]:
        chans = _list(r.params["channels"])
        caps.append(
            (
                r.id,
                f"channel IN {chans} AND contact_point_id IS NOT NULL",
                "borrower_id, contact_point_id, day",
                f"channel IN {chans} AND outcome IN ('busy', 'no_answer')",
                r.params["max_attempts"],
            )
        )
    for r in one["cap_connected_per_debtor_per_day"]:
        chans = _list(r.params["channels"])
        caps.append(
            (
                r.id,
                f"channel IN {chans}",
                "borrower_id, day",
                f"channel IN {chans} AND outcome = 'connected'",
                r.params["max_connected"],
            )
        )
    cap_ctes, cap_joins, cap_counts, cap_cols = [], [], [], []
    for i, (rid, applies, keys, counted, cap) in enumerate(caps):
        cap_ctes.append(
            f"c{i} AS (SELECT {keys}, count(*) AS n FROM hd WHERE {counted} GROUP BY ALL)"
        )
        on = " AND ".join(f"c{i}.{k.strip()} = s.{k.strip()}" for k in keys.split(","))
        cap_joins.append(f"LEFT JOIN c{i} ON {on}")
        cap_counts.append(f"c{i}.n AS had{i}")
        cap_cols.append(
            f"""CASE WHEN {applies} THEN COALESCE(had{i}, 0) + COALESCE(sum(
                  CASE WHEN ({applies}) AND elig THEN 1 ELSE 0 END) OVER (
                  PARTITION BY {keys} ORDER BY contact_id
                  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
                ELSE 0 END AS n{i}"""
        )
        freq.append((rid, f"(({applies}) AND n{i} >= {cap})", "next_midnight"))
    everything = checks + freq
    ids = [rid for rid, _, _ in everything]
    listed = ", ".join(f"CASE WHEN {b} THEN {_q(rid)} END" for rid, b, _ in everything)
    never = " OR ".join(f"({b} AND {e} IS NULL)" for _, b, e in everything) or "FALSE"
    latest = ", ".join(f"CASE WHEN {b} THEN {e} END" for _, b, e in everything)
    quiet = one["quiet_hours"]
    hold_cols = ", ".join(
        f"bool_or(({_hold_terms(r, rules)}) AND (h.contact_point_id IS NULL"
        f" OR h.contact_point_id = p.contact_point_id)) AS hold_{_ident(r.id)}"
        for r in one["hold"]
    )
    sql = f"""
    WITH p AS (
      SELECT *, COALESCE(timezone, {_q(rules.timezone_default)}) AS tz
      FROM planned WHERE NOT needs_point_missing
    ),
    p1 AS (
      SELECT *, timezone(tz, "at") AS loc, timezone(tz, "at")::DATE AS day,
             (hour(timezone(tz, "at")) * 3600 + minute(timezone(tz, "at")) * 60
              + second(timezone(tz, "at"))) AS sod,
             COALESCE(is_demand, TRUE) AS demand, COALESCE(discloses_debt, TRUE) AS disclose
      FROM p
    ),
    fl AS (
      SELECT DISTINCT ON (loan_id) loan_id, agency_id AS f_agency,
             agency_notified_at AS f_notified, assigned_at AS f_assigned,
             assignment_notified_at AS f_assign_notified, last_due_date AS f_due,
             last_demand_at AS f_demand
      FROM read_parquet('{root / "flags.parquet"}')
      WHERE loan_id IN (SELECT loan_id FROM p)
    ),
    hl AS (
      SELECT p.contact_id,
             bool_or(h.contact_point_id IS NOT NULL
                     AND h.contact_point_id = p.contact_point_id) AS cp_hold
             {", " + hold_cols if hold_cols else ""}
      FROM p1 p JOIN read_parquet('{root / "holds.parquet"}') h ON h.borrower_id = p.borrower_id
      WHERE (h.loan_id IS NULL OR h.loan_id = p.loan_id)
        AND (h.since IS NULL OR h.since <= p."at") AND (h.until IS NULL OR h.until > p."at")
      GROUP BY p.contact_id
    ),
    rf AS (SELECT DISTINCT borrower_id, contact_point_id, TRUE AS refused FROM hist
           WHERE outcome = 'refused'),
    s0 AS (
      SELECT p1.*, fl.* EXCLUDE (loan_id), hl.* EXCLUDE (contact_id), rf.refused
      FROM p1 LEFT JOIN fl ON fl.loan_id = p1.loan_id
      LEFT JOIN hl ON hl.contact_id = p1.contact_id
      LEFT JOIN rf ON rf.borrower_id = p1.borrower_id
                  AND rf.contact_point_id = p1.contact_point_id
    ),
    s1 AS (SELECT *, NOT ({static}) AS elig FROM s0),
    tzs AS (SELECT DISTINCT borrower_id, tz FROM p1),
    hd AS (
      SELECT h.borrower_id, h.contact_point_id, h.channel, h.outcome,
             timezone(z.tz, h."at")::DATE AS day
      FROM hist h JOIN tzs z ON z.borrower_id = h.borrower_id
      WHERE h."at" BETWEEN (SELECT min("at") FROM p) - INTERVAL 2 DAY
                     AND (SELECT max("at") FROM p) + INTERVAL 2 DAY
    ),
    {", ".join(cap_ctes) + "," if cap_ctes else ""}
    s1c AS (
      SELECT s.*{", " + ", ".join(cap_counts) if cap_counts else ""}
      FROM s1 s {" ".join(cap_joins)}
    ),
    s2 AS (
      SELECT *{", " + ", ".join(cap_cols) if cap_cols else ""},
             timezone(tz, (day + 1)::TIMESTAMP) AS next_midnight
      FROM s1c
    ),
    s3 AS (
      SELECT contact_id, "at", tz, channel, f_assigned, f_assign_notified,
             list_sort(list_filter([{listed}], lambda x: x IS NOT NULL)) AS blocked_by,
             {never} AS never, GREATEST("at", {latest}) AS start
      FROM s2
    ),
    s4 AS (
      SELECT *, len(blocked_by) = 0 AS allowed,
             CASE WHEN len(blocked_by) = 0 OR never THEN NULL ELSE start END AS t0
      FROM s3
    ),
    s5 AS (SELECT *, {_next_open("t0", quiet)} AS t1 FROM s4),
    s6 AS (
      SELECT *, CASE WHEN f_assigned IS NOT NULL AND f_assigned <= t1
                          AND f_assign_notified IS NULL THEN NULL
                     WHEN f_assigned IS NOT NULL AND f_assigned <= t1
                          AND f_assign_notified > t1 THEN f_assign_notified
                     ELSE t1 END AS t2
      FROM s5
    )
    SELECT contact_id, allowed, blocked_by, {_next_open("t2", quiet)} AS earliest_allowed_at
    FROM s6"""
    return sql, ids


_KINDS = (
    "quiet_hours",
    "hold",
    "contact_source",
    "agency_notify",
    "agency_scope",
    "assignment_notice",
    "limitation",
    "third_party_gate",
    "cap_unanswered_per_number_per_day",
    "cap_connected_per_debtor_per_day",
)


def _ident(rule_id: str) -> str:
    return rule_id.replace(".", "_").lower()


def _hold_terms(r: Any, rules: CompiledRules) -> str:
    terms = []
    for kind, scope in r.params["blocks"].items():
        if kind == "complaint" and not rules.complaint_hold:
            continue
        if scope == "all":
            cover = "TRUE"
        elif scope == "medium":
            cover = "(h.channel IS NULL OR h.channel = p.channel)"
        elif scope == "debtor":
            cover = "p.party = 'debtor'"
        else:
            cover = f"p.channel IN {_list(scope)}"
        terms.append(f"(h.kind = {_q(kind)} AND {cover})")
    return " OR ".join(terms) or "FALSE"


def _next_open(t: str, quiet: list[Any]) -> str:
    """``t`` moved out of a closed window: the next window opening in the debtor's zone."""
    out = t
    for r in quiet:
        loc = f"timezone(tz, {t})"
        sod = f"(hour({loc}) * 3600 + minute({loc}) * 60 + second({loc}))"
        first = r.params["windows"][0].start
        nxt = f"timezone(tz, ({loc})::DATE::TIMESTAMP + INTERVAL {first} MINUTE + INTERVAL 1 DAY)"
        for w in reversed(r.params["windows"]):
            nxt = (
                f"CASE WHEN {sod} < {w.start * 60} THEN timezone(tz, ({loc})::DATE::TIMESTAMP"
                f" + INTERVAL {w.start} MINUTE) ELSE {nxt} END"
            )
        out = (
            f"CASE WHEN {t} IS NOT NULL AND channel IN {_list(r.params['channels'])}"
            f" AND NOT {_windows(r, sod)} THEN GREATEST({nxt}, {t}) ELSE {out} END"
        )
    return out


# ------------------------------------------------------------------------------- the run


def run(
    root: Path,
    out: Path,
    strategy: Any,
    compiled: Any,
    rules: CompiledRules,
    as_of: date,
    hour: time,
    write_assigned: bool,
) -> dict[str, Any]:
    """The whole day in DuckDB, then capacity; writes ``decisions.parquet`` and
    ``segments.parquet`` (and ``assigned.parquet``) under ``out``. Returns step timings."""
    import duckdb

    from forbear.domain.capacity import allocate, default_capacity

    steps: dict[str, float] = {}
    t = clock.perf_counter()
    con = duckdb.connect(config={"memory_limit": "4GB", "temp_directory": str(out / "duckdb.tmp")})
    con.execute("SET TimeZone = 'UTC'")
    treat = compiled._actions  # the treatments' action table, as the YAML lists them
    con.register("treat_actions", treat.to_arrow())
    accounts = f"read_parquet('{root / 'accounts.parquet'}')"
    con.execute(f"CREATE TEMP VIEW assigned AS {assign_sql(strategy, accounts)}")
    con.execute(
        f"COPY (SELECT segment, arm, treatment, count(*) AS accounts FROM assigned GROUP BY ALL)"
        f" TO '{out / 'segments.parquet'}' (FORMAT parquet)"
    )
    if write_assigned:
        con.execute(
            f"COPY (SELECT loan_id, segment, arm, treatment FROM assigned)"
            f" TO '{out / 'assigned.parquet'}' (FORMAT parquet)"
        )
    steps["segments"] = clock.perf_counter() - t
    t = clock.perf_counter()
    con.execute(f"CREATE TEMP TABLE actions AS {actions_sql(strategy, as_of, root)}")
    # the value columns capacity reads, for the accounts with work only
    con.execute(
        "CREATE TEMP TABLE value AS SELECT loan_id, overdue_total, propensity, hardship"
        f" FROM {accounts} WHERE loan_id IN (SELECT loan_id FROM actions)"
    )
    steps["actions"] = clock.perf_counter() - t
    t = clock.perf_counter()
    zones = [
        r[0]
        for r in con.execute(
            f"SELECT DISTINCT timezone FROM read_parquet('{root / 'zones.parquet'}')"
            " WHERE timezone IS NOT NULL ORDER BY 1"
        ).fetchall()
    ]
    con.execute(f"CREATE TEMP TABLE planned AS {plan_sql(root, as_of, hour, zones)}")
    # the slice of the history the gate needs: the planned debtors' refusals and the
    # days around the plan (the daily caps), blocked attempts left out
    con.execute(
        f"""CREATE TEMP TABLE hist AS
        SELECT borrower_id, contact_point_id, channel, "at", outcome
        FROM read_parquet('{root / "history.parquet"}')
        WHERE outcome <> 'blocked'
          AND (outcome = 'refused'
               OR "at" BETWEEN (SELECT min("at") FROM planned) - INTERVAL 2 DAY
                         AND (SELECT max("at") FROM planned) + INTERVAL 2 DAY)
          AND borrower_id IN (SELECT borrower_id FROM planned)"""
    )
    sql, _ = gate_sql(root, rules)
    con.execute(f"CREATE TEMP TABLE answers AS {sql}")
    gated = con.sql(
        f"""SELECT a.* EXCLUDE (contact_id), p.contact_point_id,
               CASE WHEN p.needs_point_missing THEN FALSE ELSE g.allowed END AS allowed,
               CASE WHEN p.needs_point_missing THEN [{_q(NO_CONTACT_POINT)}]
                    ELSE COALESCE(g.blocked_by, []::VARCHAR[]) END AS blocked_by,
               g.earliest_allowed_at
        FROM actions a LEFT JOIN planned p ON p.contact_id = a.contact_id
        LEFT JOIN answers g ON g.contact_id = a.contact_id
        ORDER BY a.loan_id, a.action_index"""
    ).pl()
    steps["gate"] = clock.perf_counter() - t
    t = clock.perf_counter()
    fits = con.sql(
        """SELECT a.loan_id, a.borrower_id, a.action_index, a.channel, a.purpose, a.priority,
               a.loan_id * 1000 + a.action_index AS action_id, 'zh' AS lang,
               CASE WHEN a.channel = 'legal_review' THEN 'legal'
                    WHEN a.purpose = 'offer_plan' OR COALESCE(v.hardship, FALSE) THEN 'hardship'
                    ELSE 'collections' END AS skill,
               round_even(COALESCE(v.overdue_total, 0)::DOUBLE
                          * COALESCE(v.propensity, 1.0), 0)::BIGINT AS expected_recovery,
               CASE WHEN c.loan_id IS NOT NULL THEN 1 ELSE 0 END::BIGINT AS carried_days
        FROM actions a
        LEFT JOIN answers g ON g.contact_id = a.contact_id
        LEFT JOIN planned p ON p.contact_id = a.contact_id
        LEFT JOIN value v ON v.loan_id = a.loan_id
        LEFT JOIN read_parquet('"""
        + str(root / "carried.parquet")
        + """') c ON c.loan_id = a.loan_id AND c.action_index = a.action_index
        WHERE NOT COALESCE(p.needs_point_missing, FALSE) AND COALESCE(g.allowed, TRUE)"""
    ).pl()
    con.close()
    allocated = allocate(fits, default_capacity(), None)
    decisions = gated.with_columns(pl.col("action_index").cast(pl.Int64)).join(
        allocated.select(
            "loan_id",
            pl.col("action_index").cast(pl.Int64),
            "scheduled",
            "agent_id",
            "team_id",
            "rank",
            "carry_reason",
        ),
        on=["loan_id", "action_index"],
        how="left",
    )
    steps["capacity"] = clock.perf_counter() - t
    t = clock.perf_counter()
    decisions.write_parquet(out / "decisions.parquet")
    steps["write"] = clock.perf_counter() - t
    return {"steps": steps, "actions": decisions.height}
