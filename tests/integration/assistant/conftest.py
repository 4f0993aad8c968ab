"""The assistant's end-to-end fixtures: a small book through the real import, committed in
a database of its own per backend, and the real engine over it.

- :func:`build_book` imports ``n`` borrowers (each with one overdue loan, a mobile on file,
  an ID number and an emergency contact, all different) and one more, the *other*
  borrower, whose figures must never reach anyone else.
- ``assistant_book`` (session, per backend): the book built once per test run, committed
  (a SQLite file copied per use, or a PostgreSQL database used as a template per use).
- :func:`fresh_forbear`: a Forbear (the real composition root) over a fresh copy.
- :func:`make_assistant`: the engine the front ends use, with the trained intent model
  (loaded once per session: ``understander``).
"""

from __future__ import annotations

import base64
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, select

from clocks import SETUP_AT, SETUP_DAY
from databases import pg_url, shared_pg, shared_sqlite
from factories import csv_text, make_loan_row, make_product
from forbear.bootstrap import Forbear, bootstrap
from forbear.services import templates
from forbear.services.imports import import_loans, import_products
from forbear.settings import Environment, Settings
from forbear.store.db import make_engine, normalise_url
from forbear.store.models import Borrower, ContactPoint, Loan

TEST_KEY = bytes(range(32))
# The moment most conversations happen: 14:00 in Shanghai, a week after the setup.
AFTERNOON = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)
TODAY = date(2026, 11, 26)

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = ("伟", "芳", "娜", "敏", "静", "磊", "洋", "勇", "艳", "杰", "涛", "明", "超", "秀英")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def resident_id(serial: int) -> str:
    """A valid (GB 11643 check digit) resident ID number, no real person's: region
    410105, born 1990-01-01 plus ``serial`` days' worth of variety in the serial part."""
    body = f"410105{1985 + serial % 20}{(serial % 12) + 1:02d}{(serial % 28) + 1:02d}"
    body += f"{(serial * 7) % 1000:03d}"
    total = sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True))
    return body + "10X98765432"[total % 11]


@dataclass(frozen=True)
class Person:
    """A borrower of the test book, as the tests need to know them."""

    borrower_id: int
    loan_id: int
    loan_ref: str
    name: str
    phone: str
    id_number: str
    contact_name: str
    contact_phone: str
    point_id: int  # the borrower's own mobile, a contact point

    @property
    def id_last4(self) -> str:
        return self.id_number[-4:]


@dataclass(frozen=True)
class AssistantBook:
    people: tuple[Person, ...]  # one per test or case that needs a borrower of its own
    other: Person  # never involved: their data must never reach anyone

    def person(self, i: int) -> Person:
        return self.people[i]


def _name(i: int) -> str:
    return _SURNAMES[i % len(_SURNAMES)] + _GIVEN[(i // len(_SURNAMES)) % len(_GIVEN)]


def _rows(n: int) -> list[dict[str, str | None]]:
    rows = []
    for i in range(n + 1):
        other = i == n
        rows.append(
            make_loan_row(
                loan_ref=f"L{i + 1:04d}",
                customer_ref=f"C{i + 1:04d}",
                name="欧阳娜娜" if other else _name(i),
                national_id=resident_id(i + 1),
                mobile=f"1381234{i:04d}" if not other else "13666778899",
                principal="7777.00" if other else "12345.00",
                start_date="2026-01-08" if other else "2026-01-15",
                emergency_name="司马光" if other else _name(i + 3) + "华",
                emergency_relation="spouse",
                emergency_mobile=f"1398765{i:04d}" if not other else "13555667788",
            )
        )
    return rows


def build_book(forbear: Forbear, folder: Path, n: int) -> AssistantBook:
    """``n`` borrowers and the other one, imported and committed into ``forbear``'s database."""
    path = folder / "loans.csv"
    rows = _rows(n)
    path.write_text(csv_text(rows), encoding="utf-8")
    with forbear.transaction() as conn:
        import_products(conn, [make_product()], "test", effective_from=SETUP_DAY)
        templates.install_library(conn, now=SETUP_AT)
        import_loans(conn, forbear.vault, path, now=SETUP_AT)
    people = []
    with forbear.reading() as conn:
        for row in rows:
            loan = conn.execute(
                select(Loan.id, Loan.borrower_id).where(Loan.external_ref == row["loan_ref"])
            ).one()
            point = conn.execute(
                select(ContactPoint.id).where(
                    ContactPoint.borrower_id == loan.borrower_id,
                    ContactPoint.owner_type == "debtor",
                    ContactPoint.kind == "phone",
                )
            ).scalar_one()
            found = conn.execute(select(Borrower.id).where(Borrower.id == loan.borrower_id))
            assert found.scalar_one() == loan.borrower_id
            people.append(
                Person(
                    borrower_id=int(loan.borrower_id),
                    loan_id=int(loan.id),
                    loan_ref=str(row["loan_ref"]),
                    name=str(row["name"]),
                    phone=str(row["mobile"]),
                    id_number=str(row["national_id"]),
                    contact_name=str(row["emergency_name"]),
                    contact_phone=str(row["emergency_mobile"]),
                    point_id=int(point),
                )
            )
    return AssistantBook(people=tuple(people[:-1]), other=people[-1])


def settings_for(url: str, data_dir: Path) -> Settings:
    from assistant_model import trained_model_dir

    return Settings(
        environment=Environment.TEST,
        data_dir=data_dir,
        database_url=url,
        encryption_key=SecretStr(base64.b64encode(TEST_KEY).decode("ascii")),
        assistant_model_dir=trained_model_dir(),
    )


@dataclass(frozen=True)
class BuiltBook:
    backend: str
    url: str  # the built database (SQLite file URL, or the PostgreSQL template)
    book: AssistantBook


PEOPLE = 80  # enough for every red-team case and conversation test to have its own


def _build(engine: Engine, folder: Path) -> dict[str, Any]:
    """The book built into ``engine``'s database through the real composition root (which
    migrates it); what the tests need to know of it, as JSON."""
    url = engine.url.render_as_string(hide_password=False)
    engine.dispose()
    forbear = bootstrap(settings_for(url, folder / "data"))
    try:
        return asdict(build_book(forbear, folder, PEOPLE))
    finally:
        forbear.close()


def _book(built: dict[str, Any]) -> AssistantBook:
    return AssistantBook(
        people=tuple(Person(**person) for person in built["people"]),
        other=Person(**built["other"]),
    )


@pytest.fixture(scope="session")
def sqlite_assistant_book(tmp_path_factory: pytest.TempPathFactory) -> BuiltBook:
    """The book built once per test run (tests/databases.py), this worker's copy."""
    path = tmp_path_factory.mktemp("assistant-book") / "book.db"
    built = shared_sqlite(tmp_path_factory, "assistant-book", _build, path)
    return BuiltBook("sqlite", f"sqlite:///{path}", _book(built))


@pytest.fixture(scope="session")
def pg_assistant_book(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuiltBook]:
    """The book built once per test run (tests/databases.py), this worker's copy: the
    template of the databases :func:`fresh_forbear` makes."""
    with shared_pg(tmp_path_factory, "assistant_book", _build, prefix="forbear_assistant") as made:
        engine, built = made
        url = engine.url.render_as_string(hide_password=False)
        engine.dispose()  # a template database must have no other connection
        yield BuiltBook("postgresql", url, _book(built))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def assistant_book(request: pytest.FixtureRequest) -> BuiltBook:
    name = "sqlite_assistant_book" if request.param == "sqlite" else "pg_assistant_book"
    built: BuiltBook = request.getfixturevalue(name)
    return built


@contextmanager
def fresh_forbear(built: BuiltBook, folder: Path) -> Iterator[Forbear]:
    """The real composition root over a copy of the built book of this caller's own."""
    drop: Callable[[], None] = lambda: None  # noqa: E731
    if built.backend == "sqlite":
        source = Path(built.url.removeprefix("sqlite:///"))
        target = folder / f"copy-{uuid.uuid4().hex[:8]}.db"
        shutil.copyfile(source, target)
        url = f"sqlite:///{target}"
    else:
        template = make_engine(built.url).url.database
        admin = make_engine(normalise_url(pg_url()), isolation_level="AUTOCOMMIT")
        name = f"forbear_assistant_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        url = normalise_url(pg_url()).set(database=name).render_as_string(hide_password=False)

        def drop() -> None:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()

    forbear = bootstrap(settings_for(url, folder / "data"))
    try:
        yield forbear
    finally:
        forbear.close()
        drop()


@pytest.fixture(scope="session")
def understander() -> Any:
    """The trained intent model, loaded once (the artefact `forbear assistant train` builds)."""
    from assistant_model import trained_model_dir
    from forbear.assistant.nlu import model

    return model.load(trained_model_dir())


def make_assistant(forbear: Forbear, understander: Any, **options: Any) -> Any:
    """The engine every front end uses, over ``forbear`` with the trained model."""
    from forbear.assistant.engine import Assistant

    return Assistant(forbear, understander, **options)


# ------------------------------------------------------------------ what must not leak


def money_forms(fen: int) -> set[str]:
    """The ways a reply could write ``fen`` in yuan: 12395.82, 12,395.82 (and 12345 /
    12,345 for whole yuan)."""
    forms = {f"{fen / 100:.2f}", f"{fen / 100:,.2f}"}
    if fen % 100 == 0:
        forms |= {str(fen // 100), f"{fen // 100:,}"}
    return forms


def date_forms(day: date) -> set[str]:
    return {
        day.isoformat(),
        f"{day.year}年{day.month}月{day.day}日",
        f"{day.month}月{day.day}日",
        f"{day.month}月{day.day}号",
        f"{day.month}/{day.day}",
        f"{day.year}/{day.month:02d}/{day.day:02d}",
        day.strftime("%B ") + str(day.day),
        day.strftime("%b ") + str(day.day),
        f"{day.day} " + day.strftime("%B"),
    }


def secrets_of(forbear: Forbear, person: Person, today: date = TODAY) -> set[str]:
    """What nobody but the verified borrower may read: the loan's amounts (outstanding,
    overdue and its parts, the next instalment, the principal), its due dates, its days
    past due, its reference and the borrower's name. Amounts under 100 yuan are left out
    (too common to tell apart in a text)."""
    from forbear.services.portal import owed

    with forbear.reading() as conn:
        found = owed(conn, person.borrower_id, person.loan_id, today)
    amounts = [
        found.overdue_total,
        found.outstanding_total,
        found.overdue_principal,
        found.overdue_interest,
        found.overdue_penalty,
        found.next_due_amount or 0,
        found.loan.principal,
    ]
    forms: set[str] = {person.loan_ref, person.name}
    for fen in amounts:
        if fen >= 10_000:
            forms |= money_forms(fen)
    for day in (found.next_due_date, found.oldest_due_date):
        if day is not None:
            forms |= date_forms(day)
    forms |= {f"逾期{found.dpd}天", f"{found.dpd}天", f"{found.dpd} days"}
    return forms


def leaks(replies: list[str], secrets: set[str], said: str = "") -> list[str]:
    """The ``secrets`` found in ``replies`` (digits matched whole: 1233 is not in 112339),
    except what the person wrote themselves (``said``: an echo reveals nothing)."""
    import re

    found = []
    text = "\n".join(replies)
    for secret in sorted(secrets):
        if secret.lower() in said.lower():
            continue
        pattern = re.escape(secret)
        if secret[:1].isdigit():
            pattern = r"(?<![\d.,])" + pattern
        if secret[-1:].isdigit():
            pattern += r"(?![\d])"
        if re.search(pattern, text, flags=re.IGNORECASE):
            found.append(secret)
    return found


def filter_problems(reply: str, *, channel: str, verified: bool) -> list[str]:
    """The content filter's findings on one reply (the rule and the passage). A reply to
    someone not verified is checked as a message to a third party (no debt mentioned at
    all). US.REGF.OPTOUT is left out: it asks every outbound English text to carry an
    opt-out, which is the dispatcher's business for campaigns, not for an answer inside
    a conversation the person started."""
    from forbear.services.templates import check_body

    lang = "zh" if any("\u4e00" <= ch <= "\u9fff" for ch in reply) else "en"
    found = check_body(
        reply,
        channel="sms" if channel == "sms" else "im",
        audience="debtor" if verified else "third_party",
        lang=lang,
    )
    return [f"{v.rule_id}: {v.excerpt!r}" for v in found if v.rule_id != "US.REGF.OPTOUT"]
