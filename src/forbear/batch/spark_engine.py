"""The Spark engine of the daily run: :func:`forbear.batch.kernel.decide` per bucket in
PySpark workers (docs/scale.md).

What runs where:

- the driver (the ``forbear`` process) loads the day's frames from the database, writes
  them as a Parquet export (:func:`forbear.batch.kernel.write_parquet`: one file per
  table, rows sorted by ``bucket = borrower_id % buckets``), and afterwards allocates
  capacity and writes decisions, work queues and the outbox (:mod:`forbear.batch.daily`);
- each Spark task takes one bucket: it reads that bucket's rows of every table from the
  export with Polars (:func:`forbear.batch.kernel.read_bucket`; row-group statistics skip
  the other buckets), compiles the strategy and runs the very same
  :func:`~forbear.batch.kernel.decide` as the local engine.

The export must sit on a path every executor sees under the same name: the local disk
for a ``local[N]`` master; on a cluster a shared mount (NFS, or HDFS / object storage
mounted through FUSE). For ``forbear run --engine spark`` that is ``FORBEAR_DATA_DIR``'s
``spark/`` directory.

**Two outputs, one pass.** ``decide`` returns two frames (``assigned``: one row per
account, ``gated``: one row per action). A task emits both as one Arrow stream of
:data:`OUT` rows: a ``kind`` column (``assigned`` or ``gated``) and the union of the two
column sets (their shared columns have the same types; a row leaves the other kind's
columns null). The driver splits the rows by ``kind`` and casts each part back to its
exact Polars schema. Two passes would run ``decide`` twice per bucket (double CPU); two
Spark jobs over a cached result would hold every bucket's output in executor memory. The
tasks' rows are written by Spark as Parquet next to the export (executors write in
parallel; nothing passes through the driver JVM, whose result size is capped) and read
back by the driver with Polars.

**What travels to the workers** is a :class:`Job`: the strategy's YAML text (re-parsed
and compiled in the worker: a compiled strategy holds Polars expressions), or the parsed
:class:`~forbear.domain.strategy.Strategy` itself when it has no text, the lender's
:class:`~forbear.domain.compliance.config.CompiledRules`, the date, the hour and the
buckets. All are plain picklable data.

Types: the Spark session time zone is pinned to UTC, timestamps travel as
``timestamp[us, UTC]``, integers keep their width (``bigint`` for ``Int64``, ``int`` for
``Int32``) and lists of strings are ``array<string>``; results equal the local engine's
bit for bit (tests/integration/batch/test_spark_engine.py).
"""

from __future__ import annotations

import functools
import importlib.util
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, time
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pyarrow as pa

from forbear.batch import kernel
from forbear.batch.engines import CONTACT_HOUR, EngineUnavailable
from forbear.domain.compliance.config import CompiledRules
from forbear.domain.errors import ValidationError
from forbear.domain.strategy import Strategy

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

DEFAULT_MASTER = "local[2]"
MIN_JAVA = 17  # Spark 4 runs on Java 17 and 21
# Accounts per bucket above which more buckets are used than the cluster has cores: a
# task's memory holds one bucket's frames (docs/scale.md, "Bucket count").
ROWS_PER_BUCKET = 250_000
MAX_BUCKETS = 4_096
KIND = "kind"
ASSIGNED, GATED = "assigned", "gated"
# The driver's log4j2 configuration for a local master: warnings and errors only, without
# the start-up notes about the host name and native Hadoop libraries.
_LOG4J = """\
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
logger.utils.name = org.apache.spark.util.Utils
logger.utils.level = error
logger.native.name = org.apache.hadoop.util.NativeCodeLoader
logger.native.level = error
"""


def _union() -> dict[str, pl.DataType]:
    out: dict[str, pl.DataType] = {KIND: pl.String()}
    for cols in (kernel.ASSIGNED_OUT, kernel.GATED_OUT):
        for name, dtype in cols.items():
            if name in out and out[name] != dtype:  # pragma: no cover - a contract change
                raise TypeError(f"{name}: {out[name]} in one output, {dtype} in the other")
            out[name] = dtype
    return out


# One row of a task's output: the discriminator and both outputs' columns (nullable).
OUT: dict[str, pl.DataType] = _union()


# --- availability -----------------------------------------------------------------------


def unavailable_reason() -> str | None:
    """Why the Spark engine cannot run here (pyspark or Java missing), or None."""
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed (pip install 'forbear[spark]')"
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        # Spark's launcher uses $JAVA_HOME/bin/java when JAVA_HOME is set, PATH otherwise
        java = Path(java_home) / "bin" / "java"
        if not (java.is_file() and os.access(java, os.X_OK)):
            return f"JAVA_HOME ({java_home}) holds no bin/java; Spark needs Java {MIN_JAVA}+"
        found: str | None = str(java)
    else:
        found = shutil.which("java")
        if found is None:
            return (
                "Java was not found (set JAVA_HOME or put java on PATH; "
                f"Spark needs Java {MIN_JAVA}+)"
            )
    version = _java_major(found)
    if version is not None and version < MIN_JAVA:
        return f"Java {version} found at {found}; Spark needs Java {MIN_JAVA}+"
    return None


@functools.lru_cache(maxsize=4)
def _java_major(java: str) -> int | None:
    """The major version ``java -version`` reports (None when it cannot be read)."""
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if m is None:
        return None
    major = int(m.group(1))
    return int(m.group(2) or 0) if major == 1 else major  # "1.8.0" is Java 8


def require() -> None:
    """Raise :class:`~forbear.batch.engines.EngineUnavailable` unless Spark can run here."""
    reason = unavailable_reason()
    if reason is not None:
        raise EngineUnavailable("--engine", f"spark: {reason}; use --engine local")


# --- types: Polars <-> Spark / Arrow --------------------------------------------------------

_UTC = pl.Datetime("us", "UTC")
_SIMPLE: dict[pl.DataType, tuple[str, pa.DataType]] = {
    pl.Int64(): ("bigint", pa.int64()),
    pl.Int32(): ("int", pa.int32()),
    pl.String(): ("string", pa.string()),
    pl.Float64(): ("double", pa.float64()),
    pl.Boolean(): ("boolean", pa.bool_()),
    pl.Date(): ("date", pa.date32()),
    _UTC: ("timestamp", pa.timestamp("us", tz="UTC")),
}


def _inner(dtype: pl.List) -> pl.DataType:
    inner = dtype.inner
    return inner() if isinstance(inner, type) else inner


def spark_type(dtype: pl.DataType) -> str:
    """The Spark SQL type of a Polars type (the session time zone is UTC)."""
    if isinstance(dtype, pl.List):
        return f"array<{spark_type(_inner(dtype))}>"
    if dtype in _SIMPLE:
        return _SIMPLE[dtype][0]
    raise TypeError(f"no Spark type for {dtype}")


def arrow_type(dtype: pl.DataType) -> pa.DataType:
    """The Arrow type Spark sends and expects for a Polars type (no large/view types)."""
    if isinstance(dtype, pl.List):
        return pa.list_(arrow_type(_inner(dtype)))
    if dtype in _SIMPLE:
        return _SIMPLE[dtype][1]
    raise TypeError(f"no Arrow type for {dtype}")


def spark_schema(cols: dict[str, pl.DataType]) -> str:
    return ", ".join(f"`{name}` {spark_type(dtype)}" for name, dtype in cols.items())


def arrow_schema(cols: dict[str, pl.DataType]) -> pa.Schema:
    return pa.schema([(name, arrow_type(dtype)) for name, dtype in cols.items()])


def to_rows(decided: kernel.Decided) -> pl.DataFrame:
    """Both outputs of one bucket as :data:`OUT` rows (``kind`` tells them apart)."""
    parts = [
        kernel._conform(decided.assigned.with_columns(pl.lit(ASSIGNED).alias(KIND)), OUT),
        kernel._conform(decided.gated.with_columns(pl.lit(GATED).alias(KIND)), OUT),
    ]
    return pl.concat(parts)


def from_rows(rows: pl.DataFrame) -> kernel.Decided:
    """:data:`OUT` rows back to the two outputs with their exact types, sorted as
    :func:`forbear.batch.kernel.concat` sorts."""
    rows = kernel._conform(rows, OUT)
    part = kernel.Decided(
        assigned=kernel._conform(rows.filter(pl.col(KIND) == ASSIGNED), kernel.ASSIGNED_OUT),
        gated=kernel._conform(rows.filter(pl.col(KIND) == GATED), kernel.GATED_OUT),
    )
    return kernel.concat([part])


# --- the job the workers run -----------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """What every task needs besides its bucket's rows; pickled to the workers."""

    root: str  # the export, a path every executor sees
    buckets: tuple[int, ...]  # partition i decides buckets[i]
    strategy_text: str  # the strategy's YAML ("" when it has none: ``strategy`` is shipped)
    strategy_source: str
    strategy: Strategy | None
    rules: CompiledRules
    as_of: date
    hour: time

    @classmethod
    def of(
        cls,
        root: Path,
        buckets: list[int],
        strategy: Strategy,
        rules: CompiledRules,
        as_of: date,
        hour: time,
    ) -> Job:
        text = strategy.text
        return cls(
            root=str(root),
            buckets=tuple(buckets),
            strategy_text=text,
            strategy_source=strategy.source,
            strategy=None if text else strategy,
            rules=rules,
            as_of=as_of,
            hour=hour,
        )

    def parsed_strategy(self) -> Strategy:
        from forbear.domain.strategy import parse_strategy

        if self.strategy is not None:
            return self.strategy
        return parse_strategy(self.strategy_text, self.strategy_source)


def run_partition(job: Job, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """A task: for each row (a partition number) decide that bucket; yield :data:`OUT`
    rows as Arrow batches of exactly the Spark schema's types."""
    from forbear.domain.strategy import compile_strategy

    compiled = compile_strategy(job.parsed_strategy())
    schema = arrow_schema(OUT)
    root = Path(job.root)
    for batch in batches:
        for index in batch.column(0).to_pylist():
            bucket = job.buckets[int(index)]
            decided = kernel.decide(
                kernel.read_bucket(root, bucket), compiled, job.rules, job.as_of, job.hour
            )
            table = to_rows(decided).to_arrow().cast(schema)
            yield from table.to_batches(max_chunksize=64_000)


# --- the session ---------------------------------------------------------------------------


@contextmanager
def _quiet() -> Iterator[None]:
    # PySpark warns about pandas >= 3 when an Arrow function is declared; the engine uses
    # Arrow only, and pytest (rightly) turns warnings into errors.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*PySpark does not yet fully support pandas")
        yield


def configure(spark: SparkSession) -> None:
    """Runtime settings the engine relies on (safe on a session someone else made)."""
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")


def _is_local(master: str | None) -> bool:
    """Whether the session runs on this machine: ``master``, else the ``--master`` of
    ``PYSPARK_SUBMIT_ARGS``, else Spark's default (``local[*]``)."""
    if master is None:
        args = os.environ.get("PYSPARK_SUBMIT_ARGS", "").split()
        master = args[args.index("--master") + 1] if "--master" in args[:-1] else "local[*]"
    return master.startswith("local")


@contextmanager
def session(master: str | None = DEFAULT_MASTER) -> Iterator[SparkSession]:
    """A Spark session for the engine: the active one if there is one, else a new one on
    ``master`` (None: Spark's own configuration decides, e.g. ``spark-submit --master`` or
    ``PYSPARK_SUBMIT_ARGS``), stopped on exit when this function made it."""
    require()
    with _quiet():
        from pyspark.sql import SparkSession

        active = SparkSession.getActiveSession()
        if active is not None:
            configure(active)
            yield active
            return
        builder = (
            SparkSession.builder.appName("forbear-daily-run")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.ui.showConsoleProgress", "false")
        )
        local = _is_local(master)
        if master is not None:
            builder = builder.master(master)
        log4j: Path | None = None
        if local:
            builder = builder.config("spark.ui.enabled", "false")
            # read once when the driver JVM starts; removed right after
            fd, name = tempfile.mkstemp(prefix="forbear-log4j2-", suffix=".properties")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(_LOG4J)
            log4j = Path(name)
            builder = builder.config(
                "spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={log4j.as_uri()}"
            )
        previous = os.environ.get("PYSPARK_PYTHON")
        if local and previous is None:
            # workers run the driver's Python (where forbear is installed), not "python3"
            os.environ["PYSPARK_PYTHON"] = sys.executable
        try:
            spark = builder.getOrCreate()
        except Exception as e:  # the JVM did not start: a clear one-line refusal
            raise EngineUnavailable(
                "--engine", f"spark: the Spark session could not start ({type(e).__name__})"
            ) from e
        finally:
            if local and previous is None:
                os.environ.pop("PYSPARK_PYTHON", None)
            if log4j is not None:
                log4j.unlink(missing_ok=True)
        spark.sparkContext.setLogLevel("WARN")
        configure(spark)
        try:
            yield spark
        finally:
            spark.stop()


def choose_buckets(accounts: int, parallelism: int) -> int:
    """One bucket per core at least (every core gets a task), more when a bucket would
    exceed :data:`ROWS_PER_BUCKET` accounts."""
    wanted = max(parallelism, math.ceil(accounts / ROWS_PER_BUCKET), 1)
    return min(wanted, MAX_BUCKETS)


# --- the engine ------------------------------------------------------------------------------


def decide_parquet_spark(
    root: Path | str,
    strategy: Strategy,
    rules: CompiledRules,
    as_of: date,
    hour: time = CONTACT_HOUR,
    *,
    spark: SparkSession | None = None,
    master: str | None = DEFAULT_MASTER,
) -> kernel.Decided:
    """:func:`forbear.batch.kernel.decide` for every bucket of the Parquet export at
    ``root`` (:func:`forbear.batch.kernel.write_parquet`), one Spark task per bucket,
    on ``spark`` or a session on ``master``; the same result as
    ``kernel.concat(list(kernel.decide_parquet(...)))``."""
    root = Path(root).resolve()
    if not (root / "accounts.parquet").exists():
        raise ValidationError("root", f"no Parquet export at {root} (accounts.parquet missing)")
    if spark is None:
        with session(master) as made:
            return _decide(made, root, strategy, rules, as_of, hour)
    require()
    with _quiet():
        configure(spark)
        return _decide(spark, root, strategy, rules, as_of, hour)


def _decide(
    spark: SparkSession,
    root: Path,
    strategy: Strategy,
    rules: CompiledRules,
    as_of: date,
    hour: time,
) -> kernel.Decided:
    accounts = (root / "accounts.parquet").as_uri()
    found = spark.read.parquet(accounts).select(kernel.PART).distinct().collect()
    buckets = sorted(int(r[0]) for r in found)
    if not buckets:
        return kernel.concat([])
    job = Job.of(root, buckets, strategy, rules, as_of, hour)
    # exactly one partition (one task) per bucket: range() splits n ids into n slices
    tasks = spark.range(0, len(buckets), 1, len(buckets))
    out = tasks.mapInArrow(functools.partial(run_partition, job), spark_schema(OUT))
    target = root / f"_decided-{uuid.uuid4().hex[:12]}"
    try:
        out.write.mode("overwrite").parquet(target.as_uri())
        files = sorted(target.glob("part-*.parquet"))
        rows = pl.concat([pl.read_parquet(f) for f in files]) if files else pl.DataFrame(schema=OUT)
        return from_rows(rows)
    finally:
        shutil.rmtree(target, ignore_errors=True)


def decide_frames(
    frames: kernel.DayFrames,
    strategy: Strategy,
    rules: CompiledRules,
    as_of: date,
    hour: time,
    data_dir: Path,
    *,
    buckets: int | None = None,
    master: str | None = None,
) -> kernel.Decided:
    """The daily run's Spark step: ``frames`` (the whole book) exported under
    ``data_dir/spark/<as_of>-<id>/`` (removed afterwards), decided by
    :func:`decide_parquet_spark`. ``buckets`` None: :func:`choose_buckets`."""
    root = data_dir / "spark" / f"{as_of.isoformat()}-{uuid.uuid4().hex[:12]}"
    with session(master) as spark:
        count = buckets or choose_buckets(
            frames.accounts.height, spark.sparkContext.defaultParallelism
        )
        try:
            # the export holds ids, dates, amounts and time zones only (no names,
            # numbers or addresses); readable by the owner alone
            root.mkdir(parents=True, mode=0o700)
            kernel.write_parquet(frames, root, count)
            return decide_parquet_spark(root, strategy, rules, as_of, hour, spark=spark)
        finally:
            shutil.rmtree(root, ignore_errors=True)
