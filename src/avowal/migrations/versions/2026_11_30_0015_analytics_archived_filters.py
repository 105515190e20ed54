"""analytics: archived figures of recently used filters, per final day

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

FIGURES = ("visitors", "visits", "pageviews", "bounces", "events")
# Engagement and revenue default to 0, as in analytics_daily (the model's RollupFigures).
DEFAULTED = ("engaged_ms", "scroll_sum", "scrolls", "revenue_micros")


def upgrade() -> None:
    op.create_table(
        "analytics_filter_uses",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("filter_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=8200), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("site_id", "filter_id", name=op.f("pk_analytics_filter_uses")),
    )
    op.create_table(
        "analytics_archived_days",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("filter_id", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "site_id", "filter_id", "day", name=op.f("pk_analytics_archived_days")
        ),
    )
    op.create_table(
        "analytics_archived",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("filter_id", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("dimension", sa.String(length=24), nullable=False),
        sa.Column("value", sa.String(length=2000), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in FIGURES),
        sa.Column("duration_s", sa.BigInteger(), nullable=False),
        *(
            sa.Column(name, sa.BigInteger(), server_default="0", nullable=False)
            for name in DEFAULTED
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_archived")),
        sa.UniqueConstraint(
            "site_id",
            "filter_id",
            "day",
            "dimension",
            "value",
            name=op.f("uq_analytics_archived_site_id"),
        ),
    )


def downgrade() -> None:
    op.drop_table("analytics_archived")
    op.drop_table("analytics_archived_days")
    op.drop_table("analytics_filter_uses")
