"""The Spark engine decides exactly what the local engine decides (local[2], one shared
SparkSession for the test session), on SQLite and PostgreSQL; its refusals are clear."""

from __future__ import annotations

import importlib.util
import pickle
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sqlalchemy import Connection, Engine, select

from clirun import assert_one_clear_line, forbear
from clocks import SETUP_AT, SETUP_DAY
from forbear.batch import daily, inputs, kernel, spark_engine
from forbear.batch import export as exports
from forbear.domain.capacity import load_capacity
from forbear.domain.compliance.config import default_rules
from forbear.domain.errors import ValidationError
from forbear.domain.scoring.artefact import ModelKind
from forbear.domain.strategy import compile_strategy, default_strategy, parse_strategy
from forbear.services import contacts, models, strategies
from forbear.services.imports import import_loans, import_payments, import_products
from forbear.sim.book import generate_book, write_files
from forbear.sim.products import load_products
from forbear.store import runs
from forbear.store.crypto import PiiVault
from shared_book import BACKENDS, TEST_KEY, book_database, rolled_back

# its tests on one xdist worker, so that its module-scoped book is built once
pytestmark = pytest.mark.xdist_group("test_spark_engine")

AS_OF = date(2026, 11, 27)
YESTERDAY = AS_OF - timedelta(days=1)
NOW = datetime(2026, 11, 26, 1, tzinfo=UTC)
# tight on purpose: work is carried from yesterday into today
CAPACITY = load_capacity(
    """
channels: {sms: 40, ai_call: 30, call: 25, letter: 10, legal_review: 5}
teams:
  - id: phone
    agents:
      - {id: a-1, calls_per_day: 12, skills: [collections, hardship], langs: [zh]}
      - {id: a-2, calls_per_day: 8, skills: [collections, legal], langs: [zh],
         channels: [call, legal_review]}
""",
    "test capacity",
)


def busy_strategy() -> str:
    """A strategy that acts on every day past due (the shipped one acts on a few days
    only): SMS daily, four voice attempts every fifth day (the frequency caps), pushes,
    e-mails, legally required letters (the control arm gets those), legal review from 90."""

    def action(day: int, channel: str, purpose: str, required: bool = False) -> str:
        flag = ", legally_required: true" if required else ""
        fields = f"on_dpd: {day}, channel: {channel}, template: T.{channel.upper()}"
        return f"      - {{{fields}, purpose: {purpose}{flag}}}"

    lines = []
    for d in range(1, 181):
        lines.append(action(d, "sms", "remind"))
        if d % 3 == 0:
            lines.append(action(d, "app_push", "educate"))
        if d % 5 == 0:
            lines += [action(d, ch, "follow_up") for ch in ("call", "ai_call", "call", "ai_call")]
        if d % 7 == 0:
            lines.append(action(d, "email", "educate"))
        if d % 10 == 3:
            lines.append(action(d, "letter", "demand", required=True))
        if d >= 90 and d % 10 == 0:
            lines.append(action(d, "legal_review", "legal"))
    cadence = "\n".join(lines)
    return f"""\
name: busy
segments:
  - {{id: closed, when: status != active, treatment: none}}
  - {{id: late, when: dpd >= 1, treatment: daily_a}}
  - {{id: current, when: always, treatment: none}}
treatments:
  - {{id: none, actions: []}}
  - id: daily_a
    actions:
{cadence}
  - id: daily_b
    stop_on: [payment]
    actions:
{cadence}
experiments:
  - id: late_split
    segment: late
    arms:
      - {{name: champion, treatment: daily_a, share: 0.45}}
      - {{name: challenger, treatment: daily_b, share: 0.45}}
      - {{name: control, treatment: daily_a, share: 0.10}}
"""


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One local[2] SparkSession for every Spark test; skipped without pyspark or Java."""
    reason = spark_engine.unavailable_reason()
    if reason is not None:
        pytest.skip(f"the Spark engine cannot run here: {reason}")
    with spark_engine.session("local[2]") as session:
        yield session


@pytest.fixture(scope="module")
def book_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    demo = generate_book(1_200, AS_OF, 20261127, load_products())
    return write_files(demo, tmp_path_factory.mktemp("book"), fmt="parquet")


@pytest.fixture(scope="module", params=BACKENDS)
def book_engine(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    book_files: tuple[Path, Path],
) -> Iterator[Engine]:
    """The generated book, a behaviour model (scores, tiers, reason codes), a busy strategy,
    yesterday's
    run (carried work, yesterday's queue) and holds on a few
    borrowers: built once per backend."""
    tmp_path = tmp_path_factory.mktemp("spark-book")
    with book_database(request.param, tmp_path_factory, "spark") as engine:
        with engine.begin() as conn:
            import_products(conn, load_products(), "demo products", effective_from=SETUP_DAY)
            import_loans(conn, PiiVault(TEST_KEY), book_files[0], now=SETUP_AT)
            import_payments(conn, book_files[1], zone="Asia/Shanghai", now=SETUP_AT)
            trained = models.train_on_book(
                conn, ModelKind.BEHAVIOUR, as_of=YESTERDAY, months=6, now=NOW
            )
            models.activate(conn, trained.model.id, now=NOW)
            (tmp_path / "busy.yaml").write_text(busy_strategy(), encoding="utf-8")
            strategies.activate(
                conn,
                strategies.add_strategy(conn, tmp_path / "busy.yaml", now=SETUP_AT).id,
                now=SETUP_AT,
            )
            before = daily.run_day(conn, YESTERDAY, data_dir=tmp_path, capacity=CAPACITY)
            contacted = before.decisions.filter(pl.col("allowed").fill_null(False))
            for loan_id in contacted["loan_id"].unique().sort()[:6]:
                contacts.add_hold(
                    conn, loan_id=int(loan_id), kind="do_not_contact", actor="test", since=NOW,
                    all_loans=True,
                )  # fmt: skip
        yield engine


@pytest.fixture
def book(book_engine: Engine) -> Iterator[Connection]:
    """That book; each test's changes rolled back."""
    with rolled_back(book_engine) as conn:
        yield conn


def _written(conn: Connection) -> dict[str, pl.DataFrame]:
    """What a run leaves for the date, without the run's own id and clock."""
    o = runs.OutboxMessage
    cols = [c for c in o.__table__.columns if c.name not in ("id", "created_at")]
    outbox = conn.execute(select(*cols).where(o.as_of == AS_OF)).all()
    return {
        "decisions": runs.read_decisions(conn, AS_OF).drop("run_id"),
        "work_queue": runs.read_work_queue(conn, AS_OF).drop("run_id"),
        "outbox": pl.DataFrame(
            [tuple(r) for r in outbox], schema=[c.name for c in cols], orient="row"
        ).sort("loan_id", "action_index"),
    }


def test_the_spark_run_writes_what_the_local_run_writes(
    book: Connection, tmp_path: Path, spark: Any
) -> None:
    conn = book
    with conn.begin_nested() as probe:
        local = daily.run_day(conn, AS_OF, data_dir=tmp_path, capacity=CAPACITY)
        expected = _written(conn)
        probe.rollback()
    assert runs.read_decisions(conn, AS_OF).height == 0  # the probe left nothing

    result = daily.run_day(conn, AS_OF, data_dir=tmp_path, engine="spark", capacity=CAPACITY)
    got = _written(conn)

    d = expected["decisions"]
    # the day is not trivial: blocked contacts with rules, carried work, scores, queues
    assert d.filter(pl.col("allowed").not_()).height > 0
    for rule in ("CN.HOLDS", "CN.FREQ.CONNECTED", "RUN.NO_CONTACT_POINT"):
        assert d["blocked_by"].str.contains(rule, literal=True).any(), rule
    # experiment arms take part (which ones depends on the loan ids the backend gives)
    assert d["arm"].drop_nulls().n_unique() >= 2
    assert d["carried"].any() and d["behaviour_tier"].is_not_null().any()
    assert expected["work_queue"].height > 0 and expected["outbox"].height > 0
    for name, frame in expected.items():
        assert got[name].schema == frame.schema, name
        assert got[name].equals(frame, null_equal=True), name
    assert result.summary == local.summary
    assert result.engine == "spark"
    assert not any((tmp_path / "spark").iterdir())  # the run's export is removed


def test_an_export_for_a_cluster_job_decides_as_the_run_does(
    book: Connection, tmp_path: Path, spark: Any
) -> None:
    conn = book
    root = tmp_path / "export"
    export = exports.export_day(conn, AS_OF, tmp_path, root, buckets=3)
    assert (root / "manifest.json").is_file() and kernel.buckets_in(root) == [0, 1, 2]

    job = exports.read_export(root)
    assert (job.as_of, job.hour, job.buckets) == (AS_OF, daily.CONTACT_HOUR, 3)
    assert job.rules == export.rules and job.strategy.text == export.strategy.text
    on_spark = spark_engine.decide_parquet_spark(
        job.root, job.strategy, job.rules, job.as_of, job.hour, spark=spark
    )

    _queue, carried = inputs.previous_day(conn, AS_OF)
    frames = daily.day_frames(conn, AS_OF, daily.CONTACT_HOUR, carried)
    local = kernel.concat(
        [kernel.decide(frames, compile_strategy(job.strategy), job.rules, AS_OF, job.hour)]
    )
    assert local.gated.height > 0
    assert on_spark.assigned.equals(local.assigned, null_equal=True)
    assert on_spark.gated.equals(local.gated, null_equal=True)
    assert not any(p.name.startswith("_decided") for p in root.iterdir())  # results removed


# --- without a database ---------------------------------------------------------------


def test_what_travels_to_the_workers_pickles() -> None:
    rules = default_rules()
    strategy = default_strategy()
    job = spark_engine.Job.of(Path("/x"), [0, 3], strategy, rules, AS_OF, time(10))
    back = pickle.loads(pickle.dumps(job))
    assert back == job and back.rules == rules
    assert back.strategy is None  # the YAML text travels, not the parsed object
    assert back.parsed_strategy().spec == strategy.spec
    # a strategy without its text travels as itself
    bare = parse_strategy(strategy.text, "s.yaml")
    bare = type(bare)(spec=bare.spec, conditions=bare.conditions, source="s", text="")
    shipped = pickle.loads(
        pickle.dumps(spark_engine.Job.of(Path("/x"), [0], bare, rules, AS_OF, time(10)))
    )
    assert shipped.parsed_strategy().spec == strategy.spec


def test_both_outputs_travel_as_one_stream_and_come_back_exactly() -> None:
    gated = pl.DataFrame(
        {
            "loan_id": [2, 1],
            "action_index": [0, 1],
            "channel": ["sms", "legal_review"],
            "allowed": [False, None],
            "blocked_by": [["CN.HOLDS", "CN.HOURS.QUIET"], []],
            "earliest_allowed_at": [datetime(2026, 11, 27, 2, tzinfo=UTC), None],
        }
    )
    assigned = pl.DataFrame(
        {"loan_id": [2, 1], "segment": ["m1", "m3_legal"], "propensity": [0.1 + 0.2, None]}
    )
    decided = kernel.Decided(
        assigned=kernel._conform(assigned, kernel.ASSIGNED_OUT),
        gated=kernel._conform(gated, kernel.GATED_OUT),
    )
    rows = spark_engine.to_rows(decided)
    assert rows.height == 4 and rows.schema == pl.Schema(spark_engine.OUT)
    # through Arrow with the types Spark expects, as a task sends them
    wire = rows.to_arrow().cast(spark_engine.arrow_schema(spark_engine.OUT))
    back = spark_engine.from_rows(pl.from_arrow(wire))  # type: ignore[arg-type]
    want = kernel.concat([decided])
    assert back.assigned.equals(want.assigned, null_equal=True)
    assert back.gated.equals(want.gated, null_equal=True)
    assert back.gated["blocked_by"].to_list() == [[], ["CN.HOLDS", "CN.HOURS.QUIET"]]
    types = {"b": pl.List(pl.String()), "t": pl.Datetime("us", "UTC"), "i": pl.Int32()}
    assert spark_engine.spark_schema(types) == "`b` array<string>, `t` timestamp, `i` int"


def test_a_missing_export_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="no Parquet export"):
        spark_engine.decide_parquet_spark(
            tmp_path, default_strategy(), default_rules(), AS_OF, time(10)
        )


def test_an_old_java_is_refused_with_its_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if importlib.util.find_spec("pyspark") is None:
        pytest.skip("pyspark is not installed: the Java check is not reached")
    java = tmp_path / "java"
    java.write_text("#!/bin/sh\necho 'openjdk version \"11.0.2\" 2019-01-15' >&2\n")
    java.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    reason = spark_engine.unavailable_reason()
    assert reason is not None and reason.startswith("Java 11 found at"), reason
    with pytest.raises(daily.EngineUnavailable, match="Spark needs Java 17"):
        daily.run_day(None, AS_OF, data_dir=tmp_path, engine="spark")  # type: ignore[arg-type]


def test_a_java_home_without_java_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if importlib.util.find_spec("pyspark") is None:
        pytest.skip("pyspark is not installed: the Java check is not reached")
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(daily.EngineUnavailable, match=r"JAVA_HOME \(.*\) holds no bin/java"):
        daily.run_day(None, AS_OF, data_dir=tmp_path, engine="spark")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("master", "args", "local"),
    [
        ("local[2]", "", True),
        ("spark://m:7077", "", False),
        (None, "", True),
        (None, "--master yarn --executor-memory 4g pyspark-shell", False),
        (None, "--master local[4] pyspark-shell", True),
    ],
)
def test_a_local_master_is_told_from_a_cluster(
    master: str | None, args: str, local: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYSPARK_SUBMIT_ARGS", args)
    assert spark_engine._is_local(master) is local


# --- the command line ---------------------------------------------------------------------


def test_spark_without_java_is_refused_in_one_line(tmp_path: Path) -> None:
    if importlib.util.find_spec("pyspark") is None:
        pytest.skip("pyspark is not installed: the Java check is not reached")
    empty = tmp_path / "bin"
    empty.mkdir()
    result = forbear(
        tmp_path / "data", "run", "--as-of", "2026-11-27", "--engine", "spark",
        PATH=str(empty), JAVA_HOME="",
    )  # fmt: skip
    assert_one_clear_line(result, "--engine", "spark", "Java was not found", "--engine local")
    assert not (tmp_path / "data" / "spark").exists()


def test_an_unknown_engine_is_refused_in_one_line(tmp_path: Path) -> None:
    result = forbear(tmp_path / "data", "run", "--as-of", "2026-11-27", "--engine", "bogus")
    assert_one_clear_line(result, "--engine", "'bogus' is not one of local, spark")
