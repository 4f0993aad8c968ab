"""The scheduler tests' book (``outreach_book``), once per backend and module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from databases import fresh_pg
from forbear.sim.book import generate_book, write_files
from forbear.sim.products import load_products
from forbear.store.db import make_engine
from outreach_book import BOOK_DAY, BookDb, fill


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def book_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BookDb]:
    files = write_files(
        generate_book(150, BOOK_DAY, 20261127, load_products()),
        tmp_path_factory.mktemp("files"),
        fmt="parquet",
    )
    directory = tmp_path_factory.mktemp("data")
    if request.param == "sqlite":
        url = f"sqlite:///{directory / 'forbear.db'}"
        engine = make_engine(url)
        try:
            fill(engine, files)
        finally:
            engine.dispose()
        yield BookDb("sqlite", url, directory)
        return
    with fresh_pg("forbear_worker") as engine:
        fill(engine, files)
        yield BookDb("postgresql", engine.url.render_as_string(hide_password=False), directory)
