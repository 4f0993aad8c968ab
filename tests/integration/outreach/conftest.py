"""The scheduler tests' book (``outreach_book``): built once per test run and backend
(tests/databases.py), a copy of it per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from databases import shared_pg, shared_sqlite
from forbear.sim.book import generate_book, write_files
from forbear.sim.products import load_products
from outreach_book import BOOK_DAY, BookDb, fill


def _build(engine: Engine, directory: Path) -> None:
    files_dir = directory / "files"
    files_dir.mkdir(exist_ok=True)
    files = write_files(
        generate_book(150, BOOK_DAY, 20261127, load_products()), files_dir, fmt="parquet"
    )
    fill(engine, files)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def book_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BookDb]:
    directory = tmp_path_factory.mktemp("data")
    if request.param == "sqlite":
        shared_sqlite(tmp_path_factory, "outreach-book", _build, directory / "forbear.db")
        yield BookDb("sqlite", f"sqlite:///{directory / 'forbear.db'}", directory)
        return
    with shared_pg(tmp_path_factory, "outreach_book", _build, prefix="forbear_worker") as made:
        engine = made[0]
        yield BookDb("postgresql", engine.url.render_as_string(hide_password=False), directory)
