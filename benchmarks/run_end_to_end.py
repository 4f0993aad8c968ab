"""Benchmark: ``forbear run --as-of`` end to end on a whole demo book, on SQLite and
PostgreSQL, with the decision kernel on the same book as the floor (issue 12).

Run from the repository root::

    .venv/bin/python benchmarks/run_end_to_end.py                    # 100k and 1M borrowers
    .venv/bin/python benchmarks/run_end_to_end.py --sizes 100000     # one size
    .venv/bin/python benchmarks/run_end_to_end.py --smoke            # a tiny book (tests)
    .venv/bin/python benchmarks/run_end_to_end.py --baseline-src /path/to/old/src
    .venv/bin/python benchmarks/run_end_to_end.py --keep-pg-books  # reuse copied PG books
    .venv/bin/python benchmarks/run_end_to_end.py --date again     # the book's date again

For each size up to ``--build-up-to`` borrowers (100,000) a demo book is built once with
``forbear demo --no-run`` (synthetic borrowers through the real import path, collection
history, and the three book models; models are trained only up to ``--models-up-to``
borrowers, bigger books get the models of the smallest book of the run) and cached under
``benchmarks/.data/`` (gitignored). A bigger size is the largest built book whose size
divides it, copied that many times over under fresh ids (``benchmarks/_replicate.py``:
building it through the import path would take hours here): a cached SQLite copy, and
for PostgreSQL copies made inside the server. A copied book's decisions are not compared
with a smaller book's (capacity and the experiment arms see other loans). Every measured
run starts from a fresh copy of the book, and runs a new date (``--date new``, the
default): the day after the book's history ends, which no run has stored yet, as a
lender's run of the next morning (``--date again`` runs the book's last date again, which
its history stored already: rows are then merged, not inserted):

- **run (sqlite)**: ``forbear run --as-of`` on the embedded database;
- **run (postgresql)**: the same book copied into a throwaway PostgreSQL database
  (``--pg-url``; created, and dropped at the end) and ``forbear run`` against it;
- **kernel (floor)**: the day's kernel inputs of the same book exported to Parquet
  (untimed), then only :func:`forbear.batch.kernel.decide_parquet` bucket by bucket and
  capacity, in a fresh process: what the run cannot go below;
- **baseline** (``--baseline-src``): ``forbear run`` with another checkout's ``src`` on
  the same book (e.g. the code before issue 12), for before/after figures.

Each is a child process; wall time, CPU time (user + system of the whole process tree) and
peak resident memory of the process tree (sampled every 20 ms, summed over the tree) are
recorded. The run's decisions are compared across backends (and with the baseline's):
they must be identical. Speed is printed, never asserted.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = HERE / ".data"
AS_OF = "2026-06-15"  # the book's date: its history ends here
NEXT_DAY = "2026-06-16"
RUN_DATES = {"new": NEXT_DAY, "again": AS_OF}
RUN_AS_OF = NEXT_DAY  # the measured runs' date (``--date``)
SEED = 20261129
DEFAULT_SIZES = (100_000, 1_000_000)
SMOKE_SIZE = 300
MODELS_UP_TO = 200_000
BUILD_UP_TO = 100_000
PG_URL = "postgresql://postgres@127.0.0.1:5432/"
TARGETS = {  # (size, backend) -> seconds; issue 12
    (100_000, "sqlite"): 6.0,
    (1_000_000, "postgresql"): 60.0,
}
TARGET_PEAK_MB = {(1_000_000, "postgresql"): 3072.0}
DECISION_COLUMNS = (
    "loan_id, action_index, borrower_id, segment, arm, treatment, channel, template, "
    "purpose, allowed, blocked_by, earliest_allowed_at, scheduled, "
    "agent_id, team_id, carried, behaviour_tier, ew_pd, propensity, reason_codes"
)


@dataclass
class Measured:
    size: int
    what: str  # run / kernel (floor) / baseline
    backend: str
    wall_s: float
    cpu_s: float
    peak_mb: float
    decisions: int = 0
    ok: bool = True
    note: str = ""


# --- measuring a child process tree -------------------------------------------------------


def _tree_peaks(pid: int, peaks: dict[int, int]) -> None:
    """Each process of the tree's own peak (``VmHWM``, kB) into ``peaks``, by pid."""
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks[p] = max(peaks.get(p, 0), int(line.split()[1]))
            for task in Path(f"/proc/{p}/task").iterdir():
                children = (task / "children").read_text().split()
                stack.extend(int(c) for c in children)
        except (OSError, ValueError):
            continue


# Each process keeps its own high-water mark, so the tree is looked at every 0.2 s only:
# sampling its current size every 20 ms (reading /proc for the run's dozens of threads)
# cost the 100k run 0.5-0.7 s of wall and about 1 CPU s (three interleaved pairs).
SAMPLE_S = 0.2


def measure(cmd: list[str], env: dict[str, str], log: Path) -> tuple[float, float, float, int]:
    """Run ``cmd``; returns (wall s, CPU s of the tree, peak MB, exit code). The peak is
    the sum of each process's own peak (``VmHWM``): at least the tree's peak size, at
    most what it would take if every process peaked at once."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    peaks: dict[int, int] = {}
    with log.open("wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                _tree_peaks(proc.pid, peaks)
                done.wait(SAMPLE_S)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = proc.wait()
        wall = time.perf_counter() - started
        done.set()
        sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, sum(peaks.values()) / 1024, code


def _env(
    data_dir: Path, database_url: str | None = None, src: Path | None = None
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORBEAR_")}
    env["FORBEAR_DATA_DIR"] = str(data_dir)
    if database_url:
        env["FORBEAR_DATABASE_URL"] = database_url
    if src is not None:
        env["PYTHONPATH"] = str(src)
    return env


def forbear(*args: str) -> list[str]:
    return [sys.executable, "-m", "forbear.cli", *args]


# --- the books ----------------------------------------------------------------------------


def ensure_book(size: int, cache: Path, models_from: Path | None, models_up_to: int) -> Path:
    """The cached demo book of ``size`` borrowers (a data directory), built if missing."""
    book = cache / f"book-{size}-{AS_OF}"
    if (book / "forbear.db").exists() and (book / "done").exists():
        return book
    shutil.rmtree(book, ignore_errors=True)
    book.mkdir(parents=True)
    train = size <= models_up_to or models_from is None
    args = ["demo", "--borrowers", str(size), "--as-of", AS_OF, "--seed", str(SEED)]
    args += ["--no-run", "--no-staff", "--models" if train else "--no-models"]
    print(f"building the {size:,}-borrower book (forbear {' '.join(args)}) ...", flush=True)
    started = time.perf_counter()
    built = subprocess.run(
        forbear(*args), env=_env(book), capture_output=True, text=True, check=False
    )
    if built.returncode != 0:
        raise SystemExit(f"forbear demo failed:\n{built.stdout[-2000:]}\n{built.stderr[-2000:]}")
    if not train and models_from is not None:
        _copy_models(models_from / "forbear.db", book / "forbear.db")
    _checkpoint(book / "forbear.db")
    (book / "done").write_text(f"{time.perf_counter() - started:.0f} s\n")
    print(f"  built in {time.perf_counter() - started:,.0f} s", flush=True)
    return book


def _copy_models(source: Path, target: Path) -> None:
    """The active models of a smaller book, so a big book is scored without training."""
    with sqlite3.connect(target) as conn:
        conn.execute("ATTACH DATABASE ? AS small", (str(source),))
        conn.execute("INSERT INTO model_versions SELECT * FROM small.model_versions")
        conn.commit()
        conn.execute("DETACH DATABASE small")


def _checkpoint(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def fresh_copy(book: Path, into: Path) -> Path:
    shutil.rmtree(into, ignore_errors=True)
    shutil.copytree(book, into)
    return into


def upgraded(data_dir: Path, src: Path | None = None) -> Path:
    """The copy brought to the schema of the code that will run on it, before the clock
    starts: a cached book may be older, and a migration (an index over every payment,
    say) is paid once at upgrade, not by every run."""
    done = subprocess.run(
        forbear("db", "upgrade"), env=_env(data_dir, None, src), capture_output=True,
        text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"forbear db upgrade failed:\n{done.stderr[-2000:]}")
    # the code byte-compiled, as an installed package is (pip compiles what it installs;
    # an editable install under PYTHONDONTWRITEBYTECODE would compile every module on
    # every run)
    tree = src if src is not None else Path(__file__).resolve().parents[1] / "src"
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(tree)], capture_output=True, check=False
    )
    # the copy's pages written out before the clock starts: a book copied a moment ago
    # (the 100k book: 560 MB) is otherwise written back to the disk during the run, which
    # cost the 100k run 1-1.5 s against a copy in memory (interleaved runs); a lender's
    # database is not copied before its run
    os.sync()
    return data_dir


def load_postgres(book: Path, admin_url: str, work: Path) -> str:
    """A throwaway PostgreSQL database holding a copy of the book (brought to this
    release's schema first: a cached book may be older); returns its URL."""
    from sqlalchemy import make_url

    from forbear.store.copy import copy_database
    from forbear.store.db import make_engine

    book = fresh_copy(book, work / "pg-source")
    upgraded = subprocess.run(
        forbear("db", "upgrade"), env=_env(book), capture_output=True, text=True, check=False
    )
    if upgraded.returncode != 0:
        raise SystemExit(f"forbear db upgrade failed:\n{upgraded.stderr[-2000:]}")

    name = f"forbear_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    source = make_engine(f"sqlite:///{book / 'forbear.db'}")
    target = make_engine(url)
    started = time.perf_counter()
    copy_database(source, target, batch_rows=20_000)
    source.dispose()
    target.dispose()
    print(f"  copied into PostgreSQL in {time.perf_counter() - started:,.0f} s", flush=True)
    return url


def drop_postgres(url: str, admin_url: str) -> None:
    from sqlalchemy import make_url

    from forbear.store.db import make_engine

    name = make_url(url).database
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


# --- decisions ------------------------------------------------------------------------------


def decisions_of(data_dir: Path, database_url: str | None) -> Any:
    import polars as pl
    from sqlalchemy import text

    from forbear.store.db import make_engine

    engine = make_engine(database_url or f"sqlite:///{data_dir / 'forbear.db'}")
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                f"SELECT {DECISION_COLUMNS} FROM decisions WHERE as_of = :d "
                "ORDER BY loan_id, action_index"
            ),
            {"d": RUN_AS_OF},
        ).all()
    engine.dispose()
    names = [c.strip() for c in DECISION_COLUMNS.split(",")]
    frame = pl.DataFrame(
        [tuple(r) for r in rows], schema=names, orient="row", infer_schema_length=None
    )
    # one representation on both backends (SQLite keeps booleans as 0/1, times as text)
    return frame.with_columns(
        pl.col(c).cast(pl.Boolean) for c in ("allowed", "scheduled", "carried")
    ).with_columns(pl.col("earliest_allowed_at").cast(pl.String).str.slice(0, 19))


# --- the measured steps ----------------------------------------------------------------------


def run_forbear(
    size: int,
    backend: str,
    data_dir: Path,
    url: str | None,
    src: Path | None,
    what: str,
    logs: Path,
) -> Measured:
    log = logs / f"{what}-{backend}-{size}.log"
    wall, cpu, peak, code = measure(
        forbear("run", "--as-of", RUN_AS_OF), _env(data_dir, url, src), log
    )
    m = Measured(size, what, backend, wall, cpu, peak, ok=code == 0)
    if code != 0:
        m.note = log.read_text(errors="replace")[-300:]
    return m


FLOOR = """
import sys, time
from datetime import date, time as clock
from pathlib import Path
from forbear.batch import kernel
from forbear.batch.decisions import capacity_input
from forbear.batch.export import read_export
from forbear.domain.capacity import allocate, default_capacity
from forbear.domain.strategy import compile_strategy
import polars as pl
export = read_export(Path(sys.argv[1]))
compiled = compile_strategy(export.strategy)
parts = list(kernel.decide_parquet(export.root, compiled, export.rules, export.as_of, export.hour))
decided = kernel.concat(parts)
carried = pl.read_parquet(export.root / "carried.parquet").drop(kernel.PART)
fits = capacity_input(decided.gated, decided.assigned, carried)
previous = pl.DataFrame(schema={"loan_id": pl.Int64, "agent_id": pl.String})
allocate(fits, default_capacity(), previous)
print(decided.gated.height, "actions")
"""

EXPORT = """
import sys
from datetime import date
from pathlib import Path
from forbear.bootstrap import bootstrap
from forbear.batch.export import export_day
forbear = bootstrap()
with forbear.engine.connect() as conn, conn.begin():
    export_day(conn, date.fromisoformat(sys.argv[1]), forbear.settings.data_dir, Path(sys.argv[2]))
"""


def kernel_floor(
    size: int, data_dir: Path, logs: Path, work: Path, url: str | None = None
) -> Measured:
    root = work / f"export-{size}"
    shutil.rmtree(root, ignore_errors=True)
    exported = subprocess.run(
        [sys.executable, "-c", EXPORT, RUN_AS_OF, str(root)],
        env=_env(data_dir, url),
        capture_output=True,
        text=True,
        check=False,
    )
    if exported.returncode != 0:
        return Measured(
            size, "kernel (floor)", "parquet", 0, 0, 0, ok=False, note=exported.stderr[-300:]
        )
    log = logs / f"floor-{size}.log"
    wall, cpu, peak, code = measure([sys.executable, "-c", FLOOR, str(root)], _env(data_dir), log)
    return Measured(
        size,
        "kernel (floor)",
        "parquet",
        wall,
        cpu,
        peak,
        ok=code == 0,
        note="" if code == 0 else log.read_text(errors="replace")[-300:],
    )


# --- main ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(str(s) for s in DEFAULT_SIZES))
    parser.add_argument("--smoke", action="store_true", help=f"one {SMOKE_SIZE}-borrower book")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--pg-url", default=os.environ.get("FORBEAR_BENCH_PG_URL", PG_URL))
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--models-up-to", type=int, default=MODELS_UP_TO)
    parser.add_argument(
        "--build-up-to",
        type=int,
        default=BUILD_UP_TO,
        help="bigger sizes are copies of a built book, in PostgreSQL",
    )
    parser.add_argument("--baseline-src", type=Path, help="another checkout's src directory")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument(
        "--keep-pg-books",
        action="store_true",
        help="keep each copied PostgreSQL book as a template database (forbear_bench_book_"
        "<size>_<date>_<migration>) and start later runs from a copy of it, instead of "
        "copying the book again (minutes at a million borrowers); drop them by hand",
    )
    parser.add_argument(
        "--date",
        choices=sorted(RUN_DATES),
        default="new",
        help=f"new: run {NEXT_DAY}, the day after the book's history (what a lender runs "
        f"each morning); again: run {AS_OF}, which the book's history stored already",
    )
    args = parser.parse_args(argv)
    global RUN_AS_OF
    RUN_AS_OF = RUN_DATES[args.date]
    sizes = [SMOKE_SIZE] if args.smoke else [int(s) for s in args.sizes.split(",") if s]
    backends = [b for b in args.backends.split(",") if b]
    if args.smoke and "postgresql" in backends and not _pg_reachable(args.pg_url):
        backends.remove("postgresql")
    args.cache.mkdir(parents=True, exist_ok=True)
    results: list[Measured] = []
    agreement: dict[str, bool] = {}
    models_from: Path | None = None
    with tempfile.TemporaryDirectory(prefix="forbear-e2e-") as tmp:
        work = Path(tmp)
        logs = work / "logs"
        logs.mkdir()
        built: dict[int, Path] = {}
        for size in sorted(sizes):
            if size > args.build_up_to:
                results += replicated_runs(size, built, backends, args, logs, work)
                continue
            book = ensure_book(size, args.cache, models_from, args.models_up_to)
            built[size] = book
            models_from = models_from or book
            reference = None
            if args.baseline_src is not None:
                data = upgraded(fresh_copy(book, work / "baseline"), args.baseline_src)
                results.append(
                    run_forbear(size, "sqlite", data, None, args.baseline_src, "baseline", logs)
                )
                reference = decisions_of(data, None)
                results[-1].decisions = reference.height
            for backend in backends:
                data = upgraded(fresh_copy(book, work / f"run-{backend}"))
                url = load_postgres(book, args.pg_url, work) if backend == "postgresql" else None
                try:
                    m = run_forbear(size, backend, data, url, None, "run", logs)
                    results.append(m)
                    if m.ok:
                        mine = decisions_of(data, url)
                        m.decisions = mine.height
                        if reference is None:
                            reference = mine
                        else:
                            same = mine.equals(reference)
                            agreement[f"{size} {backend}"] = same
                            m.ok = m.ok and same
                            if not same:
                                m.note = "decisions differ from the first run's"
                    if backend == "sqlite":
                        results.append(kernel_floor(size, data, logs, work))
                finally:
                    if url is not None:
                        drop_postgres(url, args.pg_url)
    _print(results, agreement)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "as_of": RUN_AS_OF,
                    "book_as_of": AS_OF,
                    "results": [asdict(r) for r in results],
                    "agreement": agreement,
                },
                indent=2,
            )
        )
    return 0 if all(r.ok for r in results) else 1


def replicated_book(size: int, base: int, book: Path, cache: Path) -> Path:
    """The SQLite book of ``size`` borrowers: ``book`` (of ``base``) copied ``size / base``
    times (:mod:`_replicate`), cached like a built one."""
    from sqlalchemy import create_engine

    from _replicate import replicate

    target = cache / f"book-{size}-{AS_OF}-copies-of-{base}"
    if (target / "done").exists():
        return target
    fresh_copy(book, target)
    (target / "done").unlink(missing_ok=True)
    started = time.perf_counter()
    engine = create_engine(f"sqlite:///{target / 'forbear.db'}")  # plain: no FK checks
    with engine.begin() as conn:
        replicate(conn, size // base)
    engine.dispose()
    _checkpoint(target / "forbear.db")
    (target / "done").write_text(f"{time.perf_counter() - started:.0f} s\n")
    print(
        f"  {base:,} borrowers copied {size // base}x (SQLite) in "
        f"{time.perf_counter() - started:,.0f} s",
        flush=True,
    )
    return target


def replicated_runs(
    size: int,
    built: dict[int, Path],
    backends: list[str],
    args: argparse.Namespace,
    logs: Path,
    work: Path,
) -> list[Measured]:
    """``forbear run`` over the largest built book whose size divides ``size``, copied
    ``size / base`` times (:mod:`_replicate`): on SQLite from a cached copy, on
    PostgreSQL copied inside the server; the kernel on the same book as the floor."""
    from _replicate import replicate
    from forbear.store.db import make_engine

    bases = [b for b in sorted(built) if size % b == 0]
    if not bases:
        raise SystemExit(f"--sizes {size}: no built book divides it (built: {sorted(built)})")
    base = bases[-1]
    note = f"{size // base} copies of the {base:,} book"
    results: list[Measured] = []
    if "sqlite" in backends:
        book = replicated_book(size, base, built[base], args.cache)
        data = upgraded(fresh_copy(book, work / "run-sqlite"))
        m = run_forbear(size, "sqlite", data, None, None, "run", logs)
        if m.ok:
            m.decisions, m.note = decisions_of(data, None).height, note
        results += [m, kernel_floor(size, data, logs, work)]
    if "postgresql" in backends:
        url = _cached_pg_book(size, args) if args.keep_pg_books else None
        if url is None:
            url = load_postgres(built[base], args.pg_url, work)
            started = time.perf_counter()
            engine = make_engine(url)
            try:
                with engine.begin() as conn:
                    replicate(conn, size // base)
            except BaseException:
                engine.dispose()
                drop_postgres(url, args.pg_url)
                raise
            engine.dispose()
            print(
                f"  {base:,} borrowers copied {size // base}x in PostgreSQL in "
                f"{time.perf_counter() - started:,.0f} s",
                flush=True,
            )
            if args.keep_pg_books:
                url = _keep_pg_book(url, size, args)
        try:
            data = fresh_copy(built[base], work / "run-postgresql")
            m = run_forbear(size, "postgresql", data, url, None, "run", logs)
            if m.ok:
                m.decisions, m.note = decisions_of(data, url).height, note
            results += [m]
            if "sqlite" not in backends:
                results.append(kernel_floor(size, data, logs, work, url))
        finally:
            drop_postgres(url, args.pg_url)
    return results


def _pg_book_name(size: int) -> str:
    """The kept PostgreSQL book of ``size`` borrowers: a template database named by size,
    date and the schema's migration head (a new migration builds it again)."""
    from forbear.store.migrate import head_revision

    return f"forbear_bench_book_{size}_{AS_OF.replace('-', '')}_{head_revision()}"


def _pg_admin(args: argparse.Namespace) -> Any:
    from forbear.store.db import make_engine

    return make_engine(args.pg_url, isolation_level="AUTOCOMMIT")


def _cached_pg_book(size: int, args: argparse.Namespace) -> str | None:
    """A fresh copy (``CREATE DATABASE ... TEMPLATE``) of the kept book, or None."""
    from sqlalchemy import make_url

    admin = _pg_admin(args)
    try:
        with admin.connect() as conn:
            kept = conn.exec_driver_sql(
                "SELECT 1 FROM pg_database WHERE datname = %(n)s", {"n": _pg_book_name(size)}
            ).first()
            if kept is None:
                return None
            name = f"forbear_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
            started = time.perf_counter()
            conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{_pg_book_name(size)}"')
    finally:
        admin.dispose()
    print(
        f"  {size:,} borrowers: the kept PostgreSQL book copied in "
        f"{time.perf_counter() - started:,.0f} s",
        flush=True,
    )
    return make_url(args.pg_url).set(database=name).render_as_string(hide_password=False)


def _keep_pg_book(url: str, size: int, args: argparse.Namespace) -> str:
    """Keep the database of ``url`` as the book of ``size`` (renamed), and return a copy."""
    from sqlalchemy import make_url

    admin = _pg_admin(args)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{_pg_book_name(size)}" WITH (FORCE)')
            conn.exec_driver_sql(
                f'ALTER DATABASE "{make_url(url).database}" RENAME TO "{_pg_book_name(size)}"'
            )
    finally:
        admin.dispose()
    copy = _cached_pg_book(size, args)
    assert copy is not None
    return copy


def _pg_reachable(url: str) -> bool:
    try:
        import psycopg

        psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), connect_timeout=3).close()
        return True
    except Exception:
        return False


def _print(results: list[Measured], agreement: dict[str, bool]) -> None:
    from _measure import print_table

    floors = {r.size: r.wall_s for r in results if r.what == "kernel (floor)" and r.ok}
    body = []
    for r in results:
        floor = floors.get(r.size)
        ratio = f"{r.wall_s / floor:,.1f}x" if floor and r.what != "kernel (floor)" else "-"
        target = TARGETS.get((r.size, r.backend)) if r.what == "run" else None
        body.append(
            [
                f"{r.size:,}",
                r.what,
                r.backend,
                f"{r.wall_s:,.1f}",
                f"{r.cpu_s:,.1f}",
                f"{r.peak_mb:,.0f}",
                ratio,
                "-" if target is None else f"<= {target:g} s",
                f"{r.decisions:,}",
                "ok" if r.ok else f"FAILED {r.note}",
            ]
        )
    print_table(
        f"forbear run --as-of {RUN_AS_OF} on books of {AS_OF}, end to end",
        [
            "borrowers",
            "what",
            "backend",
            "wall s",
            "CPU s",
            "peak MB",
            "vs floor",
            "target",
            "decisions",
            "",
        ],
        body,
    )
    runs = sorted(
        (r for r in results if r.what == "run" and r.ok), key=lambda r: (r.backend, r.size)
    )
    for backend in sorted({r.backend for r in runs}):
        mine = [r for r in runs if r.backend == backend]
        for a, b in itertools.pairwise(mine):
            print(
                f"{backend}: {b.size / a.size:,.0f}x the borrowers took "
                f"{b.wall_s / a.wall_s:,.1f}x the time, {b.peak_mb / a.peak_mb:,.1f}x the memory"
            )
    for name, same in agreement.items():
        print(f"decisions {name}: {'identical' if same else 'DIFFER'}")


if __name__ == "__main__":
    sys.exit(main())
