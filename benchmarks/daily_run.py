"""Benchmark: the daily run's decisions for a whole book, local engine against named
baselines (issue 5).

Run from the repository root::

    .venv/bin/python benchmarks/daily_run.py          # 10M accounts; pandas and Spark on 1M
    .venv/bin/python benchmarks/daily_run.py --smoke  # seconds, every engine but Spark (tests)
    .venv/bin/python benchmarks/daily_run.py --accounts 2000000 --small 200000
    .venv/bin/python benchmarks/daily_run.py --engines scan,local --json figures.json

The book is a synthetic day written straight into the kernel's Parquet export layout
(``_daily_book.py``: seeded, cached under ``benchmarks/.data/`` and reused while its
parameters match). Every engine runs in its own child process (a fresh interpreter) that
imports what it needs untimed, then decides the day from the Parquet files and writes its
decisions to Parquet; peak memory is that process's high-water mark (``VmHWM``, its peak
RSS, interpreter and libraries included), for Spark the sampled peak of its whole process
tree (driver, JVM, Python workers).

Engines (the decisions: segment, arm and treatment of every account, the day's actions,
the compliance gate's answer for each planned contact, capacity):

- **scan** (the floor): a plain scan of every column of every table the local engine
  reads, with a trivial aggregate per column (a sum that forces decoding);
- **local**: :func:`forbear.batch.kernel.decide_parquet` bucket by bucket, then capacity
  (:func:`forbear.domain.capacity.allocate`) on the allowed work of all buckets, decisions
  written to Parquet;
- **duckdb**: the same logic in DuckDB SQL (``_daily_sql.py``), the same capacity step;
- **pandas**: the same logic as an in-house team writes it in pandas (``_daily_pandas.py``:
  row-wise rules with ``apply``, per-debtor ``groupby``), on the small book (default 1M
  accounts) and scaled linearly to the big one;
- **spark**: :func:`forbear.batch.spark_engine.decide_parquet_spark` on ``local[2]`` on
  the small book (skipped with a note when the engine or Java is missing);
- **local (small)**: the local engine on the small book, for ratios on equal work.

Every engine's decisions are compared with the local engine's on the same book (the
actions, ``allowed``, ``blocked_by``, the contact point, ``earliest_allowed_at``,
``scheduled``, the agent; segment counts; and per account when the book is small enough
for ``assigned.parquet`` to be written). Speed is printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from _daily_book import HOUR, BookParams, ensure_book
from _measure import memory, print_table

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".data"
ENGINES = ("scan", "local", "duckdb", "scan-small", "local-small", "pandas", "spark")
SMALL_ENGINES = ("pandas", "spark", "local-small", "scan-small")
TARGET_FLOOR = 3.0  # local within 3x the scan floor
TARGET_PANDAS = 5.0  # at least 5x pandas' throughput
TARGET_PEAK_MB = 2048.0  # peak memory under 2 GB
# per-account comparison (assigned.parquet) on books up to this size
COMPARE_ACCOUNTS_UPTO = 1_000_000
DECISION_KEYS = ["loan_id", "action_index"]
COMPARED = [
    "borrower_id",
    "segment",
    "arm",
    "treatment",
    "channel",
    "template",
    "contact_point_id",
    "allowed",
    "blocked_by",
    "earliest_allowed_at",
    "scheduled",
    "agent_id",
]


# ------------------------------------------------------------------------- engines (child)


def _setup() -> tuple[Any, Any, Any]:
    from forbear.domain.compliance.config import default_rules
    from forbear.domain.strategy import compile_strategy, default_strategy

    strategy = default_strategy()
    return strategy, compile_strategy(strategy), default_rules()


def engine_scan(root: Path, out: Path, **_: Any) -> dict[str, Any]:
    """Every column of every table, each reduced to one number that needs its values."""
    from forbear.batch import kernel

    rows = 0
    for name in kernel.TABLES:
        lf = pl.scan_parquet(root / f"{name}.parquet")
        aggs = []
        for col, dtype in lf.collect_schema().items():
            e = pl.col(col)
            if dtype == pl.String:
                e = e.str.len_bytes()
            elif dtype.is_temporal() or dtype == pl.Boolean:
                e = e.to_physical()
            aggs.append(e.cast(pl.Int64).sum().alias(col))
        lf.select(*aggs, pl.len().alias("_rows")).collect()
        rows += pl.scan_parquet(root / f"{name}.parquet").select(pl.len()).collect().item()
    return {"steps": {}, "rows_read": rows}


def _capacity_and_write(
    gated: pl.DataFrame, fits: pl.DataFrame, out: Path, steps: dict[str, float]
) -> int:
    from forbear.domain.capacity import allocate, default_capacity

    t = time.perf_counter()
    allocated = allocate(fits, default_capacity(), None)
    decisions = gated.join(
        allocated.select(
            *DECISION_KEYS, "scheduled", "agent_id", "team_id", "rank", "carry_reason"
        ),
        on=DECISION_KEYS,
        how="left",
    )
    steps["capacity"] = time.perf_counter() - t
    t = time.perf_counter()
    decisions.write_parquet(out / "decisions.parquet")
    steps["write"] = time.perf_counter() - t
    return decisions.height


def engine_local(
    root: Path, out: Path, as_of: date, write_assigned: bool, **_: Any
) -> dict[str, Any]:
    """``kernel.decide_parquet`` over every bucket, then capacity, as the daily run does
    (``daily.capacity_input`` on the allowed work; no previous work queue)."""
    from forbear.batch import daily, kernel

    _, compiled, rules = _setup()
    steps: dict[str, float] = {}
    t = time.perf_counter()
    carried = pl.read_parquet(root / "carried.parquet", columns=DECISION_KEYS)
    segments, fits, gated = [], [], []
    writer = None
    for decided in kernel.decide_parquet(root, compiled, rules, as_of, HOUR):
        a, g = decided.assigned, decided.gated
        segments.append(
            a.lazy()
            .group_by("segment", "arm", "treatment")
            .agg(pl.len().alias("accounts"))
            .collect()
        )
        # capacity reads the value of the accounts with work: pass those only
        with_work = a.filter(pl.col("loan_id").is_in(g.get_column("loan_id").unique().implode()))
        fits.append(daily.capacity_input(g, with_work, carried))
        gated.append(g)
        if write_assigned:
            import pyarrow.parquet as pq

            part = a.select("loan_id", "segment", "arm", "treatment").to_arrow()
            writer = writer or pq.ParquetWriter(out / "assigned.parquet", part.schema)
            writer.write_table(part)
    if writer is not None:
        writer.close()
    steps["decide (read + kernel)"] = time.perf_counter() - t
    pl.concat(segments).group_by("segment", "arm", "treatment").agg(
        pl.col("accounts").sum()
    ).write_parquet(out / "segments.parquet")
    n = _capacity_and_write(
        pl.concat(gated).with_columns(pl.col("action_index").cast(pl.Int64)),
        pl.concat(fits),
        out,
        steps,
    )
    return {"steps": steps, "actions": n}


def engine_duckdb(
    root: Path, out: Path, as_of: date, write_assigned: bool, **_: Any
) -> dict[str, Any]:
    import _daily_sql

    strategy, compiled, rules = _setup()
    return _daily_sql.run(root, out, strategy, compiled, rules, as_of, HOUR, write_assigned)


def engine_pandas(
    root: Path, out: Path, as_of: date, write_assigned: bool, **_: Any
) -> dict[str, Any]:
    import _daily_pandas

    strategy, compiled, rules = _setup()
    return _daily_pandas.run(root, out, strategy, compiled, rules, as_of, HOUR, write_assigned)


def engine_spark(
    root: Path, out: Path, as_of: date, write_assigned: bool, **_: Any
) -> dict[str, Any]:
    from forbear.batch import daily, spark_engine

    strategy, _, rules = _setup()
    steps: dict[str, float] = {}
    t = time.perf_counter()
    with spark_engine.session("local[2]") as spark:
        steps["session start"] = time.perf_counter() - t
        t = time.perf_counter()
        decided = spark_engine.decide_parquet_spark(root, strategy, rules, as_of, HOUR, spark=spark)
        steps["decide (Spark tasks)"] = time.perf_counter() - t
    t = time.perf_counter()
    a, g = decided.assigned, decided.gated
    a.group_by("segment", "arm", "treatment").agg(pl.len().alias("accounts")).write_parquet(
        out / "segments.parquet"
    )
    if write_assigned:
        a.select("loan_id", "segment", "arm", "treatment").write_parquet(out / "assigned.parquet")
    carried = pl.read_parquet(root / "carried.parquet", columns=DECISION_KEYS)
    fits = daily.capacity_input(g, a, carried)
    steps["driver"] = time.perf_counter() - t
    n = _capacity_and_write(g.with_columns(pl.col("action_index").cast(pl.Int64)), fits, out, steps)
    return {"steps": steps, "actions": n}


CHILDREN = {
    "scan": engine_scan,
    "scan-small": engine_scan,
    "local": engine_local,
    "local-small": engine_local,
    "duckdb": engine_duckdb,
    "pandas": engine_pandas,
    "spark": engine_spark,
}


class TreeSampler:
    """Peak RSS (MB) and CPU seconds of this process and all its descendants, sampled
    every ``every`` seconds from /proc (for Spark: the JVM and its Python workers)."""

    def __init__(self, every: float = 0.1) -> None:
        self.every = every
        self.peak_mb = 0.0
        self.cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._tick = os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def _tree(self) -> list[int]:
        parents: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            parents.setdefault(ppid, []).append(int(entry.name))
        out, todo = [], [os.getpid()]
        while todo:
            pid = todo.pop()
            out.append(pid)
            todo.extend(parents.get(pid, []))
        return out

    def _sample(self) -> None:
        total = 0.0
        for pid in self._tree():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
            self.cpu[pid] = (int(fields[11]) + int(fields[12])) / self._tick
        self.peak_mb = max(self.peak_mb, total)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._sample()


def child(engine: str, root: Path, out: Path, as_of: date, write_assigned: bool) -> None:
    # what every engine imports, before the clock starts
    import pyarrow  # noqa: F401

    import forbear.batch.daily
    import forbear.domain.capacity  # noqa: F401

    if engine == "duckdb":
        import duckdb  # noqa: F401
    if engine == "pandas":
        import pandas  # noqa: F401
    if engine == "spark":
        import pyspark  # noqa: F401
    before = memory()
    sampler = TreeSampler() if engine == "spark" else None
    start = time.perf_counter()
    cpu0 = time.process_time()
    if sampler is not None:
        with sampler:
            figures = CHILDREN[engine](
                root=root, out=out, as_of=as_of, write_assigned=write_assigned
            )
    else:
        figures = CHILDREN[engine](root=root, out=out, as_of=as_of, write_assigned=write_assigned)
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    after = memory()
    figures.update(
        seconds=seconds,
        cpu_seconds=cpu,
        inputs_mb=before["rss_mb"],
        peak_mb=after["peak_mb"],
    )
    if (out / "decisions.parquet").exists():  # after the clock: what the day looks like
        figures["day"] = day_summary(out)
    if sampler is not None:
        figures["driver_peak_mb"] = after["peak_mb"]
        figures["peak_mb"] = max(sampler.peak_mb, after["peak_mb"])
        figures["cpu_seconds"] = sum(sampler.cpu.values())
    (out / "figures.json").write_text(json.dumps(figures))


def day_summary(out: Path) -> dict[str, Any]:
    """Counts only: actions by channel, contacts allowed and blocked, blocks by rule,
    scheduled work, accounts by segment."""
    d = pl.read_parquet(out / "decisions.parquet")
    contacts = d.filter(pl.col("allowed").is_not_null())
    rules = (
        contacts.filter(~pl.col("allowed"))
        .select(pl.col("blocked_by").explode())
        .group_by("blocked_by")
        .len()
        .sort("len", descending=True)
    )
    segments = (
        pl.read_parquet(out / "segments.parquet")
        .group_by("segment")
        .agg(pl.col("accounts").sum())
        .sort("accounts", descending=True)
    )
    return {
        "actions": d.height,
        "by_channel": dict(d.group_by("channel").len().sort("len", descending=True).iter_rows()),
        "contacts": contacts.height,
        "blocked": int((~contacts.get_column("allowed")).sum()),
        "blocked_by_rule": dict(rules.iter_rows()),
        "scheduled": int(d.get_column("scheduled").fill_null(False).sum()),
        "segments": dict(segments.iter_rows()),
    }


# --------------------------------------------------------------------------- parent


def run_engine(
    engine: str, root: Path, out: Path, as_of: date, write_assigned: bool, timeout: float | None
) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", engine]
    cmd += ["--root", str(root), "--out", str(out), "--as-of", as_of.isoformat()]
    if write_assigned:
        cmd.append("--write-assigned")
    print(f"Running {engine} ...", flush=True)
    proc = subprocess.run(
        cmd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(HERE) + os.pathsep + os.environ.get("PYTHONPATH", "")},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{engine} failed:\n{proc.stderr[-4000:]}")
    figures: dict[str, Any] = json.loads((out / "figures.json").read_text())
    return figures


def _spark_missing() -> str | None:
    try:
        from forbear.batch import spark_engine
    except ImportError as e:
        return f"forbear.batch.spark_engine is not available ({e})"
    reason = spark_engine.unavailable_reason()
    return reason


def compare(local: Path, other: Path, examples: int = 3) -> dict[str, Any]:
    """The other engine's decisions against the local engine's on the same book."""
    a = pl.read_parquet(local / "decisions.parquet")
    b = pl.read_parquet(other / "decisions.parquet")
    cols = [c for c in COMPARED if c in a.columns and c in b.columns]
    b = b.select(DECISION_KEYS + cols).with_columns(
        pl.col(c).cast(a.schema[c]) for c in DECISION_KEYS + cols
    )
    j = a.select(DECISION_KEYS + cols).join(
        b, on=DECISION_KEYS, how="full", coalesce=True, suffix="_other"
    )
    only_local = j.filter(pl.col("borrower_id_other").is_null()).height
    only_other = j.filter(pl.col("borrower_id").is_null()).height
    both = j.filter(pl.col("borrower_id").is_not_null() & pl.col("borrower_id_other").is_not_null())
    per_column = {}
    bad = pl.lit(False)
    for c in cols:
        left, right = pl.col(c), pl.col(f"{c}_other")
        if isinstance(a.schema[c], pl.List):
            left, right = left.list.join(","), right.list.join(",")
        differs = left.ne_missing(right)
        per_column[c] = both.select(differs.sum()).item()
        bad = bad | differs
    mismatched = both.filter(bad)
    seg_a = pl.read_parquet(local / "segments.parquet")
    seg_b = pl.read_parquet(other / "segments.parquet")
    keys = ["segment", "arm", "treatment"]
    seg = seg_a.join(
        seg_b.with_columns(pl.col("accounts").cast(pl.Int64)),
        on=keys,
        how="full",
        coalesce=True,
        nulls_equal=True,
        suffix="_other",
    ).filter(pl.col("accounts").cast(pl.Int64).ne_missing(pl.col("accounts_other")))
    result: dict[str, Any] = {
        "actions_local": a.height,
        "actions_other": b.height,
        "only_local": only_local,
        "only_other": only_other,
        "mismatched_rows": mismatched.height,
        "mismatches_by_column": {k: v for k, v in per_column.items() if v},
        "segment_counts_equal": seg.height == 0,
        "examples": [
            {k: str(v) for k, v in r.items()} for r in mismatched.head(examples).to_dicts()
        ],
    }
    if (local / "assigned.parquet").exists() and (other / "assigned.parquet").exists():
        x = pl.read_parquet(local / "assigned.parquet")
        y = pl.read_parquet(other / "assigned.parquet")
        k = x.join(y, on="loan_id", how="full", coalesce=True, suffix="_other")
        differs = pl.any_horizontal(pl.col(c).ne_missing(pl.col(f"{c}_other")) for c in keys)
        result["accounts_compared"] = x.height
        result["accounts_mismatched"] = k.filter(differs).height
    identical = (
        only_local == 0
        and only_other == 0
        and not per_column.get("allowed")
        and not per_column.get("blocked_by")
        and mismatched.filter(
            pl.any_horizontal(
                pl.col(c).ne_missing(pl.col(f"{c}_other"))
                for c in cols
                if c not in ("blocked_by", "earliest_allowed_at")
            )
        ).height
        == 0
        and result["segment_counts_equal"]
        and not result.get("accounts_mismatched")
    )
    result["identical_decisions"] = identical
    result["identical_all"] = identical and mismatched.height == 0
    return result


def _machine() -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    def v(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "missing"

    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return {
        "cpus": os.cpu_count(),
        "memory_gib": pages / 2**30,
        **{name: v(name) for name in ("polars", "duckdb", "pandas", "pyspark", "pyarrow")},
    }


def _fmt(x: float | None, digits: int = 2) -> str:
    return "—" if x is None else f"{x:,.{digits}f}"


def report(results: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    big, small = results["books"]["big"], results["books"]["small"]
    eng = results["engines"]
    size = {e: (small if e in SMALL_ENGINES else big)["accounts"] for e in eng}
    rate = {e: size[e] / f["seconds"] for e, f in eng.items() if f.get("seconds")}
    scan_of = {"big": eng.get("scan"), "small": eng.get("scan-small")}
    pandas_rate = rate.get("pandas")
    rows = []
    for e, f in eng.items():
        if not f.get("seconds"):
            rows.append([e, f"{size[e]:,}", *["—"] * 8, f.get("note", "")])
            continue
        floor = scan_of["small" if e in SMALL_ENGINES else "big"]
        vs_floor = f["seconds"] / floor["seconds"] if floor and floor.get("seconds") else None
        cpu_floor = (
            f["cpu_seconds"] / floor["cpu_seconds"] if floor and floor.get("cpu_seconds") else None
        )
        vs_pandas = rate[e] / pandas_rate if pandas_rate else None
        note = f.get("note", "")
        if e == "pandas":
            scale = big["accounts"] / small["accounts"]
            note = f"x{scale:g} = {f['seconds'] * scale:,.0f} s for {big['accounts']:,}"
        if e == "spark":
            note = "peak/CPU: driver + JVM + workers"
        rows.append(
            [
                e,
                f"{size[e]:,}",
                _fmt(f["seconds"]),
                _fmt(f["cpu_seconds"]),
                f"{rate[e]:,.0f}",
                f"{f['peak_mb']:,.0f}",
                _fmt(vs_floor, 1) + ("x" if vs_floor else ""),
                _fmt(cpu_floor, 1) + ("x" if cpu_floor else ""),
                _fmt(vs_pandas, 1) + ("x" if vs_pandas else ""),
                _fmt(f.get("load_before"), 1),
                note,
            ]
        )
    m = results["machine"]
    print(
        f"Machine: {m['cpus']} CPUs, {m['memory_gib']:.0f} GiB; polars {m['polars']}, duckdb "
        f"{m['duckdb']}, pandas {m['pandas']}, pyspark {m['pyspark']}; load average (1 min) "
        "when each engine started in the 'load' column (other work shares the machine)"
    )
    title = (
        f"Daily run, as of {args.as_of}: {big['accounts']:,} accounts / {big['history']:,} "
        f"history rows ({big['buckets']} buckets); small book {small['accounts']:,} / "
        f"{small['history']:,} ({small['buckets']} buckets)"
    )
    headers = [
        "engine",
        "accounts",
        "wall s",
        "CPU s",
        "accounts/s",
        "peak MB",
        "wall / floor",
        "CPU / floor",
        "x pandas",
        "load",
        "note",
    ]
    print_table(title, headers, rows, width=180)
    for e, f in eng.items():
        if f.get("steps"):
            shown = ", ".join(f"{k} {v:.2f}s" for k, v in f["steps"].items())
            print(f"  {e}: {shown}")
    for e in ("local", "local-small"):
        day = eng.get(e, {}).get("day")
        if day:
            rules = ", ".join(f"{k} {v:,}" for k, v in day["blocked_by_rule"].items())
            chans = ", ".join(f"{k} {v:,}" for k, v in day["by_channel"].items())
            print(
                f"The day ({e}): {day['actions']:,} actions ({chans}); {day['contacts']:,} "
                f"contacts planned, {day['blocked']:,} blocked ({rules}); "
                f"{day['scheduled']:,} scheduled within capacity"
            )
    verdict: dict[str, Any] = {}
    local = eng.get("local")
    if local and local.get("seconds"):
        if scan_of["big"]:
            ratio = local["seconds"] / scan_of["big"]["seconds"]
            cpu = local["cpu_seconds"] / scan_of["big"]["cpu_seconds"]
            verdict["floor"] = {"ratio": ratio, "cpu_ratio": cpu, "met": ratio <= TARGET_FLOOR}
        if pandas_rate:
            speed = rate["local"] / pandas_rate
            verdict["pandas"] = {"ratio": speed, "met": speed >= TARGET_PANDAS}
            if "local-small" in rate:
                verdict["pandas"]["equal_work_ratio"] = rate["local-small"] / pandas_rate
        verdict["memory"] = {"peak_mb": local["peak_mb"], "met": local["peak_mb"] < TARGET_PEAK_MB}
        lines = []
        if "floor" in verdict:
            v = verdict["floor"]
            lines.append(
                f"within {TARGET_FLOOR:g}x the scan floor: {v['ratio']:.2f}x wall "
                f"({v['cpu_ratio']:.2f}x CPU) -> " + ("met" if v["met"] else "NOT met")
            )
        if "pandas" in verdict:
            v = verdict["pandas"]
            equal = (
                f", {v['equal_work_ratio']:.1f}x on the same small book"
                if "equal_work_ratio" in v
                else ""
            )
            lines.append(
                f"at least {TARGET_PANDAS:g}x pandas' throughput: {v['ratio']:.1f}x{equal} -> "
                + ("met" if v["met"] else "NOT met")
            )
        v = verdict["memory"]
        lines.append(
            f"peak under {TARGET_PEAK_MB:,.0f} MB: {v['peak_mb']:,.0f} MB -> "
            + ("met" if v["met"] else "NOT met")
        )
        print("Targets (local engine): " + "; ".join(lines))
    for name, c in results["agreement"].items():
        accounts = (
            f"; per account: {c['accounts_mismatched']:,} of {c['accounts_compared']:,} differ"
            if "accounts_compared" in c
            else ""
        )
        cols = ", ".join(f"{k} {v:,}" for k, v in c["mismatches_by_column"].items()) or "none"
        print(
            f"Agreement {name}: decisions "
            + (
                "IDENTICAL"
                if c["identical_all"]
                else "identical"
                if c["identical_decisions"]
                else "DIFFER"
            )
            + f" ({c['actions_other']:,} actions vs local {c['actions_local']:,}; "
            f"only in local {c['only_local']:,}, only in {name.split(' ')[0]} {c['only_other']:,}; "
            f"columns differing: {cols}; segment counts "
            + ("equal" if c["segment_counts_equal"] else "DIFFER")
            + accounts
            + ")"
        )
        for ex in c["examples"]:
            print(f"    e.g. {ex}")
    return verdict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000_000)
    parser.add_argument("--history", type=int, help="history rows (default 3 per account)")
    parser.add_argument("--buckets", type=int, help="buckets of the big book (default: auto)")
    parser.add_argument("--small", type=int, default=1_000_000, help="pandas/Spark book size")
    parser.add_argument("--small-buckets", type=int, default=4)
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--seed", type=int, default=20260310)
    parser.add_argument("--as-of", default="2026-03-10")
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--keep", type=Path, help="keep the engines' outputs here")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--write-assigned", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    as_of = date.fromisoformat(args.as_of)
    if args.child:
        child(args.child, args.root, args.out, as_of, args.write_assigned)
        return
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if args.smoke:
        args.accounts, args.small, args.small_buckets = 20_000, 5_000, 2
        engines = [e for e in engines if e != "spark"]
    history = args.history or 3 * args.accounts
    buckets = args.buckets or max(2, -(-args.accounts // 625_000))
    big = BookParams(args.accounts, history, buckets, args.seed, as_of.isoformat())
    small = BookParams(args.small, 3 * args.small, args.small_buckets, args.seed, as_of.isoformat())
    books: dict[str, tuple[Path, BookParams]] = {}
    if any(e not in SMALL_ENGINES for e in engines):
        books["big"] = (ensure_book(args.cache, big)[0], big)
    if any(e in SMALL_ENGINES for e in engines):
        books["small"] = (ensure_book(args.cache, small)[0], small)
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="daily-run-", dir=args.keep))
    results: dict[str, Any] = {
        "books": {
            "big": {"accounts": big.accounts, "history": big.history, "buckets": big.buckets},
            "small": {
                "accounts": small.accounts,
                "history": small.history,
                "buckets": small.buckets,
            },
        },
        "engines": {},
        "agreement": {},
        "machine": _machine(),
    }
    try:
        for e in engines:
            book = "small" if e in SMALL_ENGINES else "big"
            root, params = books[book]
            if e == "spark":
                missing = _spark_missing()
                if missing:
                    print(f"spark: not available ({missing})")
                    results["engines"][e] = {"note": f"not available: {missing}"}
                    continue
            write_assigned = params.accounts <= COMPARE_ACCOUNTS_UPTO and not e.startswith("scan")
            load = os.getloadavg()[0]
            results["engines"][e] = run_engine(e, root, work / e, as_of, write_assigned, None)
            results["engines"][e]["load_before"] = load
        pairs = [("duckdb", "local"), ("pandas", "local-small"), ("spark", "local-small")]
        for other, base in pairs:
            if (work / other / "decisions.parquet").exists() and (
                work / base / "decisions.parquet"
            ).exists():
                label = f"{other} vs {base}"
                results["agreement"][label] = compare(work / base, work / other)
        results["verdict"] = report(results, args)
        if args.json:
            args.json.write_text(json.dumps(results, indent=1, default=str))
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
