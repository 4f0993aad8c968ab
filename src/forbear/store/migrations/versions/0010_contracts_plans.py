"""Contract versions and repayment plans (issue 6).

``contract_versions`` gets one row per product (its current version, the only one known
before this migration), with the key terms taken from the stored product terms, and every
existing loan points to it. ``plans`` and ``plan_lines`` hold repayment plans.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 17:00:00
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What ContractTerms gives a contract whose product file says nothing of them.
DEFAULT_DISPUTE_VENUE = "贷款人住所地人民法院 (people's court at the lender's domicile)"


def upgrade() -> None:
    op.create_table(
        "contract_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("product_terms", sa.JSON(), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("annual_rate_bp", sa.Integer(), nullable=False),
        sa.Column("penalty_rate_bp", sa.Integer(), nullable=False),
        sa.Column("monthly_fee_bp", sa.Integer(), nullable=False),
        sa.Column("late_fee", sa.BigInteger(), nullable=False),
        sa.Column("grace_days", sa.Integer(), nullable=False),
        sa.Column("consent_to_collection_contact", sa.Boolean(), nullable=False),
        sa.Column("dispute_venue", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.CheckConstraint("version > 0", name=op.f("ck_contract_versions_version_positive")),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_contract_versions_product_id_products")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contract_versions")),
        sa.UniqueConstraint(
            "product_id", "version", name=op.f("uq_contract_versions_product_id_version")
        ),
    )
    op.create_index(
        op.f("ix_contract_versions_product_id"), "contract_versions", ["product_id"], unique=False
    )
    with op.batch_alter_table("loans") as batch:
        batch.add_column(sa.Column("contract_version_id", sa.Integer(), nullable=True))
        batch.create_index(
            batch.f("ix_loans_contract_version_id"), ["contract_version_id"], unique=False
        )
        batch.create_foreign_key(
            batch.f("fk_loans_contract_version_id_contract_versions"),
            "contract_versions",
            ["contract_version_id"],
            ["id"],
        )
    _backfill()

    op.create_table(
        "plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("plan_type", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("base_date", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("accepted_on", sa.Date(), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("tier", sa.String(length=8), nullable=True),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("covered", sa.BigInteger(), nullable=False),
        sa.Column("added_interest", sa.BigInteger(), nullable=False),
        sa.Column("waived", sa.BigInteger(), nullable=False),
        sa.Column("discount", sa.BigInteger(), nullable=False),
        sa.Column("released", sa.BigInteger(), nullable=False),
        sa.Column("scheduled", sa.BigInteger(), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("policy_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
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
        sa.CheckConstraint(
            "plan_type IN ('deferral', 'restructure', 'settlement', 'hardship')",
            name=op.f("ck_plans_plan_type"),
        ),
        sa.CheckConstraint(
            "status IN ('offered', 'accepted', 'active', 'completed', 'broken', 'cancelled', "
            "'expired')",
            name=op.f("ck_plans_status"),
        ),
        sa.ForeignKeyConstraint(["loan_id"], ["loans.id"], name=op.f("fk_plans_loan_id_loans")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
    )
    op.create_index("ix_plans_status_loan_id", "plans", ["status", "loan_id"], unique=False)
    # At most one open plan per loan: a partial unique index (SQLite and PostgreSQL).
    open_sql = "status IN ('offered', 'accepted', 'active')"
    op.create_index(
        "ux_plans_one_open_per_loan",
        "plans",
        ["loan_id"],
        unique=True,
        sqlite_where=sa.text(open_sql),
        postgresql_where=sa.text(open_sql),
    )
    op.create_table(
        "plan_lines",
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("principal", sa.BigInteger(), nullable=False),
        sa.Column("interest", sa.BigInteger(), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.Column("penalty", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "principal >= 0 AND interest >= 0 AND fee >= 0 AND penalty >= 0",
            name=op.f("ck_plan_lines_amounts"),
        ),
        sa.CheckConstraint("kind IN ('plan', 'contract')", name=op.f("ck_plan_lines_kind")),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name=op.f("fk_plan_lines_plan_id_plans"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("plan_id", "seq", name=op.f("pk_plan_lines")),
    )


def _backfill() -> None:
    """One contract version per product (its current terms) and every loan pointed to it."""
    conn = op.get_bind()
    products = sa.table(
        "products",
        sa.column("id", sa.Integer()),
        sa.column("code", sa.String()),
        sa.column("version", sa.Integer()),
        sa.column("terms", sa.JSON()),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    loans = sa.table(
        "loans",
        sa.column("product_id", sa.Integer()),
        sa.column("start_date", sa.Date()),
        sa.column("contract_version_id", sa.Integer()),
    )
    versions = sa.table(
        "contract_versions",
        sa.column("id", sa.Integer()),
        sa.column("product_id", sa.Integer()),
        sa.column("version", sa.Integer()),
        sa.column("effective_from", sa.Date()),
        sa.column("product_terms", sa.JSON()),
        sa.column("terms", sa.JSON()),
        sa.column("annual_rate_bp", sa.Integer()),
        sa.column("penalty_rate_bp", sa.Integer()),
        sa.column("monthly_fee_bp", sa.Integer()),
        sa.column("late_fee", sa.BigInteger()),
        sa.column("grace_days", sa.Integer()),
        sa.column("consent_to_collection_contact", sa.Boolean()),
        sa.column("dispute_venue", sa.String()),
        sa.column("sha256", sa.String()),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    first_loan = dict(
        conn.execute(
            sa.select(loans.c.product_id, sa.func.min(loans.c.start_date)).group_by(
                loans.c.product_id
            )
        ).all()
    )
    now = datetime.now(UTC)
    for row in conn.execute(sa.select(products)).all():
        raw = row.terms if isinstance(row.terms, dict) else json.loads(row.terms)
        if not {"annual_rate_bp", "penalty_rate_bp"} <= set(raw):
            continue  # not product terms the application could read either: no contract
        created = row.created_at
        if isinstance(created, str):
            created = datetime.fromisoformat(created)
        start = first_loan.get(row.id)
        if isinstance(start, str):
            start = date.fromisoformat(start)
        effective = start or (created.date() if created is not None else now.date())
        terms = {
            "product_code": row.code,
            "version": row.version,
            "effective_from": effective.isoformat(),
            "annual_rate_bp": raw["annual_rate_bp"],
            "penalty_rate_bp": raw["penalty_rate_bp"],
            "day_count": raw.get("day_count", 360),
            "grace_days": raw.get("grace_days", 0),
            "monthly_fee_bp": raw.get("monthly_fee_bp", 0),
            "late_fee": raw.get("late_fee", 0),
            "consent_to_collection_contact": True,
            "dispute_venue": DEFAULT_DISPUTE_VENUE,
            "max_term_months": max(raw.get("terms_months") or [12]),
        }
        canonical = json.dumps(raw, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        conn.execute(
            sa.insert(versions).values(
                product_id=row.id,
                version=row.version,
                effective_from=effective,
                product_terms=raw,
                terms=terms,
                annual_rate_bp=terms["annual_rate_bp"],
                penalty_rate_bp=terms["penalty_rate_bp"],
                monthly_fee_bp=terms["monthly_fee_bp"],
                late_fee=terms["late_fee"],
                grace_days=terms["grace_days"],
                consent_to_collection_contact=True,
                dispute_venue=DEFAULT_DISPUTE_VENUE,
                sha256=hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
                created_at=now,
            )
        )
        version_id = conn.execute(
            sa.select(versions.c.id).where(
                versions.c.product_id == row.id, versions.c.version == row.version
            )
        ).scalar_one()
        conn.execute(
            sa.update(loans)
            .where(loans.c.product_id == row.id)
            .values(contract_version_id=version_id)
        )


def downgrade() -> None:
    op.drop_table("plan_lines")
    op.drop_index("ux_plans_one_open_per_loan", table_name="plans")
    op.drop_index("ix_plans_status_loan_id", table_name="plans")
    op.drop_table("plans")
    with op.batch_alter_table("loans") as batch:
        batch.drop_constraint(
            batch.f("fk_loans_contract_version_id_contract_versions"), type_="foreignkey"
        )
        batch.drop_index(batch.f("ix_loans_contract_version_id"))
        batch.drop_column("contract_version_id")
    op.drop_index(op.f("ix_contract_versions_product_id"), table_name="contract_versions")
    op.drop_table("contract_versions")
