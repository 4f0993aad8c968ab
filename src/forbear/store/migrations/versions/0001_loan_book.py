"""Loan book: products, borrowers and contact points, loans, schedules, payments,
account states and import batches.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-29 14:14:47.144228
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "borrowers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_ref", sa.String(length=64), nullable=False),
        sa.Column("name_enc", sa.LargeBinary(), nullable=False),
        sa.Column("national_id_enc", sa.LargeBinary(), nullable=False),
        sa.Column("national_id_bidx", sa.String(length=64), nullable=False),
        sa.Column("mobile_enc", sa.LargeBinary(), nullable=False),
        sa.Column("mobile_bidx", sa.String(length=64), nullable=False),
        sa.Column("email_enc", sa.LargeBinary(), nullable=True),
        sa.Column("address_enc", sa.LargeBinary(), nullable=True),
        sa.Column("province", sa.String(length=64), nullable=True),
        sa.Column("city", sa.String(length=64), nullable=True),
        sa.Column("timezone", sa.String(length=64), server_default="Asia/Shanghai", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_borrowers")),
        sa.UniqueConstraint("external_ref", name=op.f("uq_borrowers_external_ref")),
    )
    op.create_index(op.f("ix_borrowers_mobile_bidx"), "borrowers", ["mobile_bidx"], unique=False)
    op.create_index(
        op.f("ix_borrowers_national_id_bidx"), "borrowers", ["national_id_bidx"], unique=False
    )

    op.create_table(
        "import_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("source_name", sa.String(length=500), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rows_total", sa.Integer(), nullable=False),
        sa.Column("rows_imported", sa.Integer(), nullable=False),
        sa.Column("rows_skipped_existing", sa.Integer(), nullable=False),
        sa.Column("rows_rejected", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('loans', 'payments', 'products')", name=op.f("ck_import_batches_kind")
        ),
        sa.CheckConstraint(
            "status IN ('committed', 'rejected', 'partial')", name=op.f("ck_import_batches_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_batches")),
    )
    op.create_index(
        op.f("ix_import_batches_file_sha256"), "import_batches", ["file_sha256"], unique=False
    )

    op.create_table(
        "products",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name_zh", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
        sa.UniqueConstraint("code", name=op.f("uq_products_code")),
    )
    op.create_table(
        "contact_points",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("borrower_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value_enc", sa.LargeBinary(), nullable=False),
        sa.Column("value_bidx", sa.String(length=64), nullable=False),
        sa.Column("owner_type", sa.String(length=32), nullable=False),
        sa.Column("owner_name_enc", sa.LargeBinary(), nullable=True),
        sa.Column("relation", sa.String(length=32), nullable=True),
        sa.Column("provenance", sa.String(length=32), nullable=False),
        sa.Column("is_primary", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('phone', 'email', 'address')", name=op.f("ck_contact_points_kind")
        ),
        sa.CheckConstraint(
            "owner_type IN ('debtor', 'guarantor', 'emergency_contact')",
            name=op.f("ck_contact_points_owner_type"),
        ),
        sa.CheckConstraint(
            "provenance IN ('contract', 'supplied_by_debtor', 'debtor_authorisation', "
            "'public_source', 'registered_contact_person', 'authorised_bureau')",
            name=op.f("ck_contact_points_provenance"),
        ),
        sa.ForeignKeyConstraint(
            ["borrower_id"],
            ["borrowers.id"],
            name=op.f("fk_contact_points_borrower_id_borrowers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_points")),
        sa.UniqueConstraint(
            "borrower_id",
            "kind",
            "value_bidx",
            "owner_type",
            name=op.f("uq_contact_points_borrower_id_kind_value_bidx_owner_type"),
        ),
    )
    op.create_index(
        op.f("ix_contact_points_value_bidx"), "contact_points", ["value_bidx"], unique=False
    )

    op.create_table(
        "loans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_ref", sa.String(length=64), nullable=False),
        sa.Column("borrower_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("principal", sa.BigInteger(), nullable=False),
        sa.Column("term_months", sa.Integer(), nullable=False),
        sa.Column("annual_rate_bp", sa.Integer(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("first_due_date", sa.Date(), nullable=False),
        sa.Column("written_off_on", sa.Date(), nullable=True),
        sa.Column("import_batch_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.CheckConstraint("principal > 0", name=op.f("ck_loans_principal_positive")),
        sa.CheckConstraint("term_months > 0", name=op.f("ck_loans_term_positive")),
        sa.ForeignKeyConstraint(
            ["borrower_id"], ["borrowers.id"], name=op.f("fk_loans_borrower_id_borrowers")
        ),
        sa.ForeignKeyConstraint(
            ["import_batch_id"],
            ["import_batches.id"],
            name=op.f("fk_loans_import_batch_id_import_batches"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_loans_product_id_products")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loans")),
        sa.UniqueConstraint("external_ref", name=op.f("uq_loans_external_ref")),
    )
    op.create_index(op.f("ix_loans_borrower_id"), "loans", ["borrower_id"], unique=False)

    op.create_table(
        "account_states",
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("dpd", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.String(length=8), nullable=False),
        sa.Column("overdue_principal", sa.BigInteger(), nullable=False),
        sa.Column("overdue_interest", sa.BigInteger(), nullable=False),
        sa.Column("overdue_fee", sa.BigInteger(), nullable=False),
        sa.Column("overdue_penalty", sa.BigInteger(), nullable=False),
        sa.Column("overdue_total", sa.BigInteger(), nullable=False),
        sa.Column("outstanding_principal", sa.BigInteger(), nullable=False),
        sa.Column("oldest_unpaid_due_date", sa.Date(), nullable=True),
        sa.Column("next_due_date", sa.Date(), nullable=True),
        sa.Column("next_due_amount", sa.BigInteger(), nullable=True),
        sa.Column("last_payment_date", sa.Date(), nullable=True),
        sa.Column("paid_total", sa.BigInteger(), nullable=False),
        sa.Column("credit", sa.BigInteger(), server_default="0", nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'paid_off', 'written_off')", name=op.f("ck_account_states_status")
        ),
        sa.ForeignKeyConstraint(
            ["loan_id"],
            ["loans.id"],
            name=op.f("fk_account_states_loan_id_loans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("as_of", "loan_id", name=op.f("pk_account_states")),
    )
    op.create_index(
        "ix_account_states_as_of_bucket", "account_states", ["as_of", "bucket"], unique=False
    )

    op.create_table(
        "instalments",
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("principal", sa.BigInteger(), nullable=False),
        sa.Column("interest", sa.BigInteger(), nullable=False),
        sa.Column("fee", sa.BigInteger(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.id"], name=op.f("fk_instalments_loan_id_loans"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("loan_id", "seq", name=op.f("pk_instalments")),
    )
    op.create_index(op.f("ix_instalments_due_date"), "instalments", ["due_date"], unique=False)

    op.create_table(
        "payments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("external_ref", sa.String(length=64), nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("import_batch_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payments_amount_positive")),
        sa.ForeignKeyConstraint(
            ["import_batch_id"],
            ["import_batches.id"],
            name=op.f("fk_payments_import_batch_id_import_batches"),
        ),
        sa.ForeignKeyConstraint(["loan_id"], ["loans.id"], name=op.f("fk_payments_loan_id_loans")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("external_ref", name=op.f("uq_payments_external_ref")),
    )
    op.create_index("ix_payments_loan_id_paid_on", "payments", ["loan_id", "paid_on"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_payments_loan_id_paid_on", table_name="payments")

    op.drop_table("payments")
    op.drop_index(op.f("ix_instalments_due_date"), table_name="instalments")

    op.drop_table("instalments")
    op.drop_index("ix_account_states_as_of_bucket", table_name="account_states")

    op.drop_table("account_states")
    op.drop_index(op.f("ix_loans_borrower_id"), table_name="loans")

    op.drop_table("loans")
    op.drop_index(op.f("ix_contact_points_value_bidx"), table_name="contact_points")

    op.drop_table("contact_points")
    op.drop_table("products")
    op.drop_index(op.f("ix_import_batches_file_sha256"), table_name="import_batches")

    op.drop_table("import_batches")
    op.drop_index(op.f("ix_borrowers_national_id_bidx"), table_name="borrowers")
    op.drop_index(op.f("ix_borrowers_mobile_bidx"), table_name="borrowers")

    op.drop_table("borrowers")
