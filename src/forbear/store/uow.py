"""Unit of work: one session, one transaction, the repositories that work inside it.

Usage (one service function per use case, exactly one commit)::

    with uow:
        loan = uow.loans.require_external_ref(ref)
        ...
        uow.commit()

Leaving the block without :meth:`commit` rolls everything back. Bulk steps that need the
same transaction take :meth:`SqlAlchemyUnitOfWork.connection`.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.session import JoinTransactionMode

from forbear.store.repositories import (
    BorrowerRepository,
    ContactPointRepository,
    ImportBatchRepository,
    LoanRepository,
    ModelVersionRepository,
    PaymentRepository,
    ProductRepository,
    StateRepository,
    conflict_from,
)


def make_session_factory(
    bind: Engine | Connection,
    *,
    join_transaction_mode: JoinTransactionMode = "conditional_savepoint",
) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (no lazy reload surprises).

    Bound to a :class:`Connection` already in a transaction (tests), pass
    ``join_transaction_mode="create_savepoint"`` so a commit only releases a savepoint.
    """
    return sessionmaker(
        bind=bind, expire_on_commit=False, join_transaction_mode=join_transaction_mode
    )


class SqlAlchemyUnitOfWork:
    products: ProductRepository
    borrowers: BorrowerRepository
    contact_points: ContactPointRepository
    loans: LoanRepository
    payments: PaymentRepository
    import_batches: ImportBatchRepository
    states: StateRepository
    models: ModelVersionRepository

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.session_factory = session_factory
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        if self._session is None:
            raise RuntimeError("the unit of work is not open: use `with uow:`")
        return self._session

    def __enter__(self) -> Self:
        if self._session is not None:
            raise RuntimeError("the unit of work is already open")
        session = self.session_factory()
        self._session = session
        self.products = ProductRepository(session)
        self.borrowers = BorrowerRepository(session)
        self.contact_points = ContactPointRepository(session)
        self.loans = LoanRepository(session)
        self.payments = PaymentRepository(session)
        self.import_batches = ImportBatchRepository(session)
        self.states = StateRepository(session)
        self.models = ModelVersionRepository(session)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session, self._session = self._session, None
        if session is None:
            return
        try:
            session.rollback()  # a no-op after commit()
        finally:
            session.close()

    def connection(self) -> Connection:
        """The connection of this unit of work's transaction, for :mod:`forbear.store.bulk`."""
        return self.session.connection()

    def flush(self) -> None:
        try:
            self.session.flush()
        except IntegrityError as exc:
            raise conflict_from(exc) from None

    def commit(self) -> None:
        try:
            self.session.commit()
        except IntegrityError as exc:
            raise conflict_from(exc) from None

    def rollback(self) -> None:
        self.session.rollback()
