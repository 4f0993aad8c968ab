"""The integration tests' ORM unit of work and repositories, for seeding rows one by one.

Forbear's use cases take the ``Connection`` of ``Forbear.transaction()`` (the unit of
work) and use ``forbear.store`` modules by noun; this session-based unit of work was
never used by them and lives here, where the tests that seed through it (and
``test_repositories.py``, which checks the schema's constraints through it) find it.

Usage::

    with uow:
        loan = uow.loans.require_external_ref(ref)
        ...
        uow.commit()

Leaving the block without :meth:`SqlAlchemyUnitOfWork.commit` rolls everything back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from sqlalchemy import Connection, Engine, Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker
from sqlalchemy.orm.session import JoinTransactionMode

from forbear.domain.errors import Conflict, NotFound
from forbear.domain.products import ProductTerms
from forbear.store.chunks import chunked
from forbear.store.crypto import Contexts, PiiVault
from forbear.store.models import (
    AccountState,
    Base,
    BatchKind,
    BatchStatus,
    Borrower,
    ContactKind,
    ContactPoint,
    ImportBatch,
    Instalment,
    Loan,
    OwnerType,
    Payment,
    Product,
    Provenance,
    utcnow,
)

M = TypeVar("M", bound=Base)


def conflict_from(exc: IntegrityError) -> Conflict:
    """A :class:`Conflict` naming the violated constraint, without the offending values
    (PostgreSQL's detail line quotes them, and they may be personal data)."""
    orig = exc.orig
    diag = getattr(orig, "diag", None)
    name = getattr(diag, "constraint_name", None)
    if name:
        return Conflict(f"conflicts with stored data (constraint {name})")
    first_line = str(orig).strip().splitlines()[0] if orig is not None else "integrity error"
    return Conflict(f"conflicts with stored data ({first_line})")


class SqlRepository(Generic[M]):
    """Typed base: ``get``, ``require``, ``add`` and the private query helpers."""

    model: type[M]
    kind: str = "record"

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, id_: Any) -> M | None:
        return self.session.get(self.model, id_)

    def require(self, id_: Any) -> M:
        found = self.get(id_)
        if found is None:
            raise NotFound(self.kind, str(id_))
        return found

    def add_model(self, obj: M) -> M:
        """Add and flush, so the id is known and a duplicate is a :class:`Conflict` now.

        After a Conflict the transaction is unusable: let the unit of work roll back.
        Callers that expect duplicates check first (``by_external_ref``,
        ``existing_refs``).
        """
        self.session.add(obj)
        try:
            self.session.flush()
        except IntegrityError as exc:
            raise conflict_from(exc) from None
        return obj

    def _one(self, stmt: Select[M]) -> M | None:
        return self.session.scalars(stmt).one_or_none()

    def _all(self, stmt: Select[M]) -> list[M]:
        return list(self.session.scalars(stmt).all())

    def _existing(self, column: InstrumentedAttribute[str], refs: Iterable[str]) -> set[str]:
        wanted = sorted(set(refs))
        found: set[str] = set()
        for part in chunked(wanted):
            found.update(self.session.scalars(select(column).where(column.in_(part))))
        return found


def terms_of(product: Product) -> ProductTerms:
    """The validated terms stored with a product row."""
    return ProductTerms.model_validate(product.terms)


class _ModelRepository(SqlRepository[M]):
    """A repository whose ``add`` takes a built model."""

    def add(self, obj: M) -> M:
        return self.add_model(obj)


class ProductRepository(SqlRepository[Product]):
    model = Product
    kind = "product"

    def by_code(self, code: str) -> Product | None:
        return self._one(select(Product).where(Product.code == code))

    def require_code(self, code: str) -> Product:
        found = self.by_code(code)
        if found is None:
            raise NotFound(self.kind, code)
        return found

    def add(self, terms: ProductTerms, *, version: int = 1) -> Product:
        """Store a new product from its terms; a code already stored is a Conflict."""
        return self.add_model(
            Product(
                code=terms.code,
                version=version,
                name_zh=terms.name_zh,
                name_en=terms.name_en,
                terms=terms.model_dump(mode="json"),
            )
        )

    def all(self) -> list[Product]:
        return self._all(select(Product).order_by(Product.code))

    def terms(self, code: str) -> ProductTerms:
        return terms_of(self.require_code(code))


class BorrowerRepository(_ModelRepository[Borrower]):
    model = Borrower
    kind = "borrower"

    def by_external_ref(self, external_ref: str) -> Borrower | None:
        return self._one(select(Borrower).where(Borrower.external_ref == external_ref))

    def existing_refs(self, refs: Iterable[str]) -> set[str]:
        return self._existing(Borrower.external_ref, refs)

    def find_by_mobile(self, vault: PiiVault, mobile: str) -> list[Borrower]:
        bidx = vault.blind_index("phone", mobile)
        return self._all(select(Borrower).where(Borrower.mobile_bidx == bidx).order_by(Borrower.id))

    def find_by_national_id(self, vault: PiiVault, national_id: str) -> list[Borrower]:
        bidx = vault.blind_index("national_id", national_id)
        stmt = select(Borrower).where(Borrower.national_id_bidx == bidx).order_by(Borrower.id)
        return self._all(stmt)

    def add_encrypted(
        self,
        vault: PiiVault,
        *,
        external_ref: str,
        name: str,
        national_id: str,
        mobile: str,
        email: str | None = None,
        address: str | None = None,
        province: str | None = None,
        city: str | None = None,
        timezone: str = "Asia/Shanghai",
    ) -> Borrower:
        """Encrypt the personal fields, compute their blind indexes and store the borrower."""
        return self.add(
            Borrower(
                external_ref=external_ref,
                name_enc=vault.encrypt(name, context=Contexts.BORROWER_NAME),
                national_id_enc=vault.encrypt(national_id, context=Contexts.BORROWER_NATIONAL_ID),
                national_id_bidx=vault.blind_index("national_id", national_id),
                mobile_enc=vault.encrypt(mobile, context=Contexts.BORROWER_MOBILE),
                mobile_bidx=vault.blind_index("phone", mobile),
                email_enc=vault.encrypt_optional(email, context=Contexts.BORROWER_EMAIL),
                address_enc=vault.encrypt_optional(address, context=Contexts.BORROWER_ADDRESS),
                province=province,
                city=city,
                timezone=timezone,
            )
        )


@dataclass(frozen=True, slots=True)
class BorrowerPii:
    """A borrower's personal fields in clear, for the few views allowed to see them."""

    name: str
    national_id: str | None  # None once anonymised by retention (migration 0004)
    mobile: str | None
    email: str | None
    address: str | None


def reveal_borrower(vault: PiiVault, borrower: Borrower) -> BorrowerPii:
    return BorrowerPii(
        name=vault.decrypt(borrower.name_enc, context=Contexts.BORROWER_NAME),
        national_id=vault.decrypt_optional(
            borrower.national_id_enc, context=Contexts.BORROWER_NATIONAL_ID
        ),
        mobile=vault.decrypt_optional(borrower.mobile_enc, context=Contexts.BORROWER_MOBILE),
        email=vault.decrypt_optional(borrower.email_enc, context=Contexts.BORROWER_EMAIL),
        address=vault.decrypt_optional(borrower.address_enc, context=Contexts.BORROWER_ADDRESS),
    )


class ContactPointRepository(_ModelRepository[ContactPoint]):
    model = ContactPoint
    kind = "contact point"

    def for_borrower(self, borrower_id: int) -> list[ContactPoint]:
        stmt = (
            select(ContactPoint)
            .where(ContactPoint.borrower_id == borrower_id)
            .order_by(ContactPoint.is_primary.desc(), ContactPoint.id)
        )
        return self._all(stmt)

    def find_by_value(self, vault: PiiVault, kind: ContactKind, value: str) -> list[ContactPoint]:
        bidx = vault.blind_index(kind.value, value)
        stmt = (
            select(ContactPoint)
            .where(ContactPoint.kind == kind.value, ContactPoint.value_bidx == bidx)
            .order_by(ContactPoint.id)
        )
        return self._all(stmt)

    def add_encrypted(
        self,
        vault: PiiVault,
        *,
        borrower_id: int,
        kind: ContactKind,
        value: str,
        owner_type: OwnerType,
        provenance: Provenance,
        owner_name: str | None = None,
        relation: str | None = None,
        is_primary: bool = False,
    ) -> ContactPoint:
        """Store a contact point with its lawful provenance (CN.DATA.CONTACT_SOURCE)."""
        return self.add(
            ContactPoint(
                borrower_id=borrower_id,
                kind=ContactKind(kind).value,
                value_enc=vault.encrypt(value, context=Contexts.CONTACT_VALUE),
                value_bidx=vault.blind_index(ContactKind(kind).value, value),
                owner_type=OwnerType(owner_type).value,
                owner_name_enc=vault.encrypt_optional(
                    owner_name, context=Contexts.CONTACT_OWNER_NAME
                ),
                relation=relation,
                provenance=Provenance(provenance).value,
                is_primary=is_primary,
            )
        )


class LoanRepository(_ModelRepository[Loan]):
    model = Loan
    kind = "loan"

    def by_external_ref(self, external_ref: str) -> Loan | None:
        return self._one(select(Loan).where(Loan.external_ref == external_ref))

    def require_external_ref(self, external_ref: str) -> Loan:
        found = self.by_external_ref(external_ref)
        if found is None:
            raise NotFound(self.kind, external_ref)
        return found

    def existing_refs(self, refs: Iterable[str]) -> set[str]:
        return self._existing(Loan.external_ref, refs)

    def for_borrower(self, borrower_id: int) -> list[Loan]:
        return self._all(select(Loan).where(Loan.borrower_id == borrower_id).order_by(Loan.id))

    def instalments(self, loan_id: int) -> list[Instalment]:
        stmt = select(Instalment).where(Instalment.loan_id == loan_id).order_by(Instalment.seq)
        return list(self.session.scalars(stmt).all())

    def count(self) -> int:
        return int(self.session.scalar(select(func.count()).select_from(Loan)) or 0)


class PaymentRepository(_ModelRepository[Payment]):
    model = Payment
    kind = "payment"

    def by_external_ref(self, external_ref: str) -> Payment | None:
        return self._one(select(Payment).where(Payment.external_ref == external_ref))

    def existing_refs(self, refs: Iterable[str]) -> set[str]:
        return self._existing(Payment.external_ref, refs)

    def for_loan(self, loan_id: int, *, up_to: date | None = None) -> list[Payment]:
        stmt = select(Payment).where(Payment.loan_id == loan_id)
        if up_to is not None:
            stmt = stmt.where(Payment.paid_on <= up_to)
        return self._all(stmt.order_by(Payment.paid_on, Payment.id))


class ImportBatchRepository(SqlRepository[ImportBatch]):
    model = ImportBatch
    kind = "import batch"

    def add(
        self,
        batch: ImportBatch | None = None,
        *,
        kind: BatchKind | None = None,
        source_name: str = "",
        file_sha256: str = "",
        status: BatchStatus = BatchStatus.COMMITTED,
        rows_total: int = 0,
        rows_imported: int = 0,
        rows_skipped_existing: int = 0,
        rows_rejected: int = 0,
        started_at: datetime | None = None,
        finished_at: datetime | None = None,
    ) -> ImportBatch:
        """Record an import: pass a built :class:`ImportBatch` or its fields."""
        if batch is None:
            if kind is None:
                raise TypeError("an import batch needs a kind")
            batch = ImportBatch(
                kind=BatchKind(kind).value,
                source_name=source_name,
                file_sha256=file_sha256,
                status=BatchStatus(status).value,
                rows_total=rows_total,
                rows_imported=rows_imported,
                rows_skipped_existing=rows_skipped_existing,
                rows_rejected=rows_rejected,
                started_at=started_at or utcnow(),
                finished_at=finished_at,
            )
        return self.add_model(batch)

    def by_sha256(self, file_sha256: str) -> list[ImportBatch]:
        stmt = (
            select(ImportBatch)
            .where(ImportBatch.file_sha256 == file_sha256)
            .order_by(ImportBatch.id)
        )
        return self._all(stmt)

    def recent(self, limit: int = 50) -> list[ImportBatch]:
        return self._all(select(ImportBatch).order_by(ImportBatch.id.desc()).limit(limit))


class StateRepository(SqlRepository[AccountState]):
    model = AccountState
    kind = "account state"

    def for_date(self, as_of: date) -> list[AccountState]:
        stmt = (
            select(AccountState).where(AccountState.as_of == as_of).order_by(AccountState.loan_id)
        )
        return self._all(stmt)

    def for_loan(self, loan_id: int, as_of: date) -> AccountState | None:
        return self.get((as_of, loan_id))

    def latest_date(self) -> date | None:
        return self.session.scalar(select(func.max(AccountState.as_of)))


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
