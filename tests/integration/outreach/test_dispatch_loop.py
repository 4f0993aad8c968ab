"""The dispatcher loop on a committed database (SQLite file, PostgreSQL database of its
own): the sandbox by default, several workers, one SQLite worker only, a hanging
provider, a graceful stop, and caps shared with agents' contacts in parallel.

Adapters here are real classes implementing the channel protocol (``name``,
``rate_per_second``, ``send``, ``flush``, ``close``), recording what they were given.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import SecretStr
from sqlalchemy import func, insert, select

from clocks import SETUP_AT
from databases import migrated_pg, migrated_sqlite
from factories import import_three_loans
from forbear.bootstrap import Forbear, bootstrap
from forbear.channels.base import Accepted, OutgoingMessage, TransientFailure
from forbear.channels.config import ChannelsConfig, ProviderConfig, sandbox_only
from forbear.channels.dispatcher import Dispatcher, run
from forbear.clock import fixed_clock
from forbear.domain.compliance.config import default_rules
from forbear.services.contacts import request_contact
from forbear.services.outreach.claims import DispatcherBusy
from forbear.services.outreach.dispatch import RetryPolicy
from forbear.services.templates import install_library
from forbear.settings import Environment, Settings
from forbear.store.contacts import ContactAttempt
from forbear.store.models import Loan
from forbear.store.runs import OutboxMessage

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 12, 7)
NOON = datetime(2026, 12, 7, 12, 0, tzinfo=SHANGHAI).astimezone(UTC)
TEST_KEY = bytes(range(32))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def app(
    request: pytest.FixtureRequest, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Forbear]:
    """Forbear on a database of this test's own (a copy of the run's migrated database),
    with the three-loan book."""
    if request.param == "sqlite":
        migrated_sqlite(tmp_path_factory, tmp_path / "forbear.db")
        yield from _app(f"sqlite:///{tmp_path / 'forbear.db'}", tmp_path)
        return
    with migrated_pg(tmp_path_factory, "forbear_dispatch") as engine:
        url = engine.url.render_as_string(hide_password=False)
        engine.dispose()
        yield from _app(url, tmp_path)


def _app(url: str, tmp_path: Path) -> Iterator[Forbear]:
    settings = Settings(
        environment=Environment.TEST,
        data_dir=tmp_path / "data",
        database_url=url,
        encryption_key=SecretStr(base64.b64encode(TEST_KEY).decode("ascii")),
        public_url="https://lender.example",
    )
    forbear = bootstrap(settings)
    forbear.clock = fixed_clock(NOON)
    with forbear.transaction() as conn:
        import_three_loans(conn, forbear.vault, tmp_path)
        install_library(conn, now=SETUP_AT)
    try:
        yield forbear
    finally:
        forbear.close()


def loan(forbear: Forbear, ref: str) -> tuple[int, int]:
    with forbear.reading() as conn:
        found = conn.execute(
            select(Loan.id, Loan.borrower_id).where(Loan.external_ref == ref)
        ).one()
    return int(found.id), int(found.borrower_id)


def queue(
    forbear: Forbear,
    ref: str,
    n: int,
    *,
    channel: str = "sms",
    template: str = "CN.M1.REMIND.SMS",
    start: int = 0,
) -> list[str]:
    loan_id, borrower_id = loan(forbear, ref)
    keys = [f"{ref}-{channel}-{start + i:06d}" for i in range(n)]
    with forbear.transaction() as conn:
        conn.execute(
            insert(OutboxMessage),
            [
                {
                    "as_of": DAY,
                    "loan_id": loan_id,
                    "borrower_id": borrower_id,
                    "action_index": start + i,
                    "channel": channel,
                    "template": template,
                    "dedupe_key": key,
                    "status": "queued",
                    "created_at": NOON - timedelta(hours=6),
                    "origin": "run",
                    "due_at": NOON - timedelta(minutes=1),
                    "next_attempt_at": NOON - timedelta(minutes=1),
                    "tries": 0,
                    "reason_rules": "[]",
                }
                for i, key in enumerate(keys)
            ],
        )
    return keys


def statuses(forbear: Forbear) -> dict[str, str]:
    with forbear.reading() as conn:
        rows = conn.execute(select(OutboxMessage.dedupe_key, OutboxMessage.status)).all()
    return {str(r.dedupe_key): str(r.status) for r in rows}


class Recording:
    """A provider that accepts everything and remembers each message id it was given."""

    def __init__(self, name: str = "recording", *, rate: float | None = None) -> None:
        self.name = name
        self.rate_per_second = rate
        self.lock = threading.Lock()
        self.seen: list[str] = []
        self.flushed = 0

    def send(self, message: OutgoingMessage) -> Accepted:
        assert message.to and message.body and "{" not in message.body
        with self.lock:
            self.seen.append(message.message_id)
        return Accepted(self.name, f"r-{message.message_id}")

    def flush(self) -> None:
        self.flushed += 1

    def close(self) -> None:
        return None


class Hanging(Recording):
    """A provider that does not answer until released."""

    def __init__(self) -> None:
        super().__init__("hanging")
        self.release = threading.Event()
        self.entered = threading.Event()

    def send(self, message: OutgoingMessage) -> Accepted:
        self.entered.set()
        assert self.release.wait(30), "never released"
        return super().send(message)


class Flaky(Recording):
    """Throttles the first ``n`` sends, then accepts."""

    def __init__(self, n: int) -> None:
        super().__init__("flaky")
        self.left = n

    def send(self, message: OutgoingMessage) -> Accepted:
        with self.lock:
            if self.left > 0:
                self.left -= 1
                raise TransientFailure("throttled", code="429", retry_after=1)
        return super().send(message)


def config_for(*channels: str, threads: int = 4) -> ChannelsConfig:
    return ChannelsConfig(
        providers=tuple(
            ProviderConfig(f"p-{c}", "sandbox", (c,), threads=threads) for c in channels
        ),
        retry=RetryPolicy(max_tries=3, base_delay=timedelta(seconds=10)),
        batch=50,
    )


# ------------------------------------------------------------------------------ tests


def test_once_sends_everything_due_to_the_sandbox_and_writes_it_down(app: Forbear) -> None:
    keys = queue(app, "L0001", 3) + queue(
        app, "L0003", 1, channel="app_push", template="CN.M1.REMIND.PUSH"
    )
    totals = run(app, once=True, config=sandbox_only(), worker_id="demo")
    assert totals.sent == 4
    assert set(statuses(app).values()) == {"sent"}
    folder = app.settings.data_dir / "sandbox" / NOON.date().isoformat()
    written = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in folder.glob("*.json")}
    assert set(written) == set(keys)
    sms = written[keys[0]]
    assert sms["channel"] == "sms" and sms["to"] == "13812345678" and "元" in sms["body"]
    assert oct((folder / f"{keys[0]}.json").stat().st_mode & 0o777) == "0o600"
    # nothing is due any more: a second pass does nothing
    assert run(app, once=True, config=sandbox_only(), worker_id="demo").sent == 0


def test_a_second_dispatcher_on_sqlite_is_refused_while_one_runs(app: Forbear) -> None:
    if app.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL runs many dispatchers")
    queue(app, "L0001", 2)
    refused: list[BaseException] = []

    def second(_: Dispatcher) -> None:
        try:
            run(app, once=True, config=sandbox_only(), worker_id="second")
        except DispatcherBusy as exc:
            refused.append(exc)

    run(app, once=True, config=sandbox_only(), worker_id="first", on_ready=second)
    assert len(refused) == 1
    assert "only one dispatcher" in str(refused[0])
    # once the first has ended, another may run
    run(app, once=True, config=sandbox_only(), worker_id="third")


def test_several_postgresql_workers_never_send_one_message_twice(app: Forbear) -> None:
    if app.engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one dispatcher")
    keys = queue(app, "L0001", 150) + queue(app, "L0003", 150, start=1000)
    provider = Recording()
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            barrier.wait()
            with Dispatcher(
                app, config_for("sms"), worker_id=f"w{i}", batch=20, adapters={"sms": provider}
            ) as d:
                d.run_once()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(provider.seen) == sorted(keys)  # each exactly once
    assert set(statuses(app).values()) == {"sent"}
    with app.reading() as conn:
        attempts = conn.execute(select(func.count()).select_from(ContactAttempt)).scalar_one()
    assert attempts == len(keys)  # one contact recorded per message


def test_a_hanging_provider_does_not_stall_the_other_channels(app: Forbear) -> None:
    sms = queue(app, "L0001", 2)
    push = queue(app, "L0003", 3, channel="app_push", template="CN.M1.REMIND.PUSH")
    hanging, fine = Hanging(), Recording()
    dispatcher = Dispatcher(
        app,
        config_for("sms", "app_push"),
        worker_id="w1",
        adapters={"sms": hanging, "app_push": fine},
    )
    try:
        dispatcher.turn()
        assert hanging.entered.wait(10)
        for _ in range(200):  # the other channel's answers are stored meanwhile
            dispatcher.turn()
            if all(statuses(app)[k] == "sent" for k in push):
                break
            threading.Event().wait(0.02)
        now = statuses(app)
        assert [now[k] for k in push] == ["sent"] * 3
        assert [now[k] for k in sms] == ["sending"] * 2
    finally:
        hanging.release.set()
        dispatcher.close()
    assert [statuses(app)[k] for k in sms] == ["sent"] * 2


def test_a_backlog_is_claimed_in_growing_batches_and_a_trickle_in_small_ones(
    app: Forbear,
) -> None:
    keys = queue(app, "L0001", 20)
    provider = Recording()
    dispatcher = Dispatcher(
        app, config_for("sms"), worker_id="w1", batch=2, backlog_batch=8, adapters={"sms": provider}
    )
    sizes: list[int] = []
    try:
        while claimed := dispatcher.turn():
            sizes.append(claimed)
            dispatcher._drain(wait=True)  # the sends kept up
        # doubled after each full claim, up to backlog_batch; the last found fewer
        assert sizes == [2, 4, 8, 6]
        more = queue(app, "L0001", 5, start=100)
        assert dispatcher.turn() == 2  # the backlog is gone: back to the batch
    finally:
        dispatcher.close()
    assert sorted(provider.seen) == sorted(keys + more[:2])  # the rest wait their turn


def test_the_batch_does_not_grow_while_the_sends_do_not_keep_up(app: Forbear) -> None:
    keys = queue(app, "L0001", 6)
    hanging = Hanging()
    dispatcher = Dispatcher(
        app,
        config_for("sms", threads=1),
        worker_id="w1",
        batch=2,
        backlog_batch=8,
        max_pending=6,
        adapters={"sms": hanging},
    )
    try:
        assert dispatcher.turn() == 2
        assert hanging.entered.wait(10)
        assert dispatcher.turn() == 2  # two outstanding: not grown
    finally:
        hanging.release.set()
        dispatcher.close()
    assert sorted(hanging.seen) == sorted(keys[:4])


def test_leases_in_flight_are_extended_once_half_a_lease_has_passed_not_on_every_turn(
    app: Forbear,
) -> None:
    keys = queue(app, "L0001", 2)
    hanging = Hanging()
    config = config_for("sms")
    lease = config.lease

    def leases() -> dict[str, datetime | None]:
        with app.reading() as conn:
            rows = conn.execute(select(OutboxMessage.dedupe_key, OutboxMessage.lease_until))
            return {str(r.dedupe_key): r.lease_until for r in rows}

    dispatcher = Dispatcher(app, config, worker_id="w1", adapters={"sms": hanging})
    try:
        dispatcher.turn()
        assert hanging.entered.wait(10)
        given = leases()
        assert set(given) == set(keys) and None not in given.values()
        app.clock = fixed_clock(NOON + lease / 2 - timedelta(seconds=1))
        for _ in range(3):  # the loop turns often while the provider hangs
            dispatcher.turn()
        assert leases() == given  # nothing rewritten before half a lease
        later = NOON + lease / 2 + timedelta(seconds=1)
        app.clock = fixed_clock(later)
        dispatcher.turn()
        assert set(leases().values()) == {later + lease}  # still this worker's
    finally:
        hanging.release.set()
        dispatcher.close()
    assert [statuses(app)[k] for k in keys] == ["sent"] * 2


def test_stop_lets_the_send_under_way_finish_and_gives_the_rest_back(app: Forbear) -> None:
    keys = queue(app, "L0001", 5)
    hanging = Hanging()
    dispatcher = Dispatcher(
        app, config_for("sms", threads=1), worker_id="w1", adapters={"sms": hanging}
    )
    dispatcher.turn()
    assert hanging.entered.wait(10)
    dispatcher.stop()  # SIGTERM
    hanging.release.set()
    dispatcher.close()
    now = statuses(app)
    assert hanging.seen == [keys[0]]
    assert now[keys[0]] == "sent"
    assert [now[k] for k in keys[1:]] == ["queued"] * 4
    assert dispatcher.totals.released == 4
    # the next worker sends the rest, with the attempts already recorded (not twice)
    with app.reading() as conn:
        before = conn.execute(select(func.count()).select_from(ContactAttempt)).scalar_one()
    provider = Recording()
    run(app, once=True, config=config_for("sms"), worker_id="w2", adapters={"sms": provider})
    assert sorted(provider.seen) == sorted(keys[1:])
    with app.reading() as conn:
        after = conn.execute(select(func.count()).select_from(ContactAttempt)).scalar_one()
    assert after == before == 5


def test_a_throttled_message_is_tried_again_after_its_backoff(app: Forbear) -> None:
    (key,) = queue(app, "L0001", 1)
    flaky = Flaky(1)
    config = config_for("sms")
    run(app, once=True, config=config, worker_id="w1", adapters={"sms": flaky})
    assert statuses(app)[key] == "queued"
    assert flaky.seen == []
    run(app, once=True, config=config, worker_id="w1", adapters={"sms": flaky})
    assert flaky.seen == []  # its time has not come
    app.clock = fixed_clock(NOON + timedelta(minutes=5))
    run(app, once=True, config=config, worker_id="w1", adapters={"sms": flaky})
    assert flaky.seen == [key]
    assert statuses(app)[key] == "sent"


def test_dispatched_ai_calls_and_agents_calls_in_parallel_never_pass_the_daily_cap(
    app: Forbear,
) -> None:
    """CN caps connected calls (AI voice included) at 3 a day per debtor, counting the
    pending ones: dispatched AI calls and agents' calls at once make exactly 3."""
    queue(app, "L0001", 3, channel="ai_call", template="CN.M1.AI_VOICE")
    loan_id, borrower_id = loan(app, "L0001")
    rules = default_rules()
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []
    provider = Recording()

    def agent() -> None:
        try:
            barrier.wait()
            with app.transaction() as conn:
                request_contact(
                    conn, loan_id=loan_id, channel="call", at=NOON, actor="agent:1", rules=rules
                )
        except BaseException as exc:
            errors.append(exc)

    def dispatcher() -> None:
        try:
            barrier.wait()
            run(
                app,
                once=True,
                config=config_for("ai_call"),
                worker_id="w1",
                adapters={"ai_call": provider},
            )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=agent) for _ in range(3)]
    threads.append(threading.Thread(target=dispatcher))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with app.reading() as conn:
        allowed = conn.execute(
            select(func.count())
            .select_from(ContactAttempt)
            .where(ContactAttempt.borrower_id == borrower_id, ContactAttempt.allowed.is_(True))
        ).scalar_one()
    assert allowed == 3
    assert len(provider.seen) <= 3


class StumblingOnce(Dispatcher):
    """A dispatcher whose first turn fails (the database away for a moment)."""

    failed = False

    def turn(self) -> int:
        if not self.failed:
            self.failed = True
            raise ConnectionError("database away")
        return super().turn()


def test_the_long_running_loop_survives_a_failed_turn_and_stops_on_request(
    app: Forbear,
) -> None:
    keys = queue(app, "L0001", 3)
    provider = Recording()
    dispatcher = StumblingOnce(app, config_for("sms"), worker_id="w1", adapters={"sms": provider})
    loop = threading.Thread(target=dispatcher.run_forever, kwargs={"poll": 0.01})
    loop.start()
    try:
        for _ in range(1000):
            if len(provider.seen) == 3:
                break
            threading.Event().wait(0.02)
    finally:
        dispatcher.stop()
        loop.join(30)
        dispatcher.close()
    assert not loop.is_alive()
    assert dispatcher.totals.errors == 1
    assert sorted(provider.seen) == sorted(keys)
    assert set(statuses(app).values()) == {"sent"}
