"""analytics quarantine

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analytics_quarantine",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("field", sa.String(length=40), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("record", sa.JSON(), nullable=True),
        sa.Column("quarantined_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_quarantine")),
    )
    op.create_index("ix_analytics_quarantine_site_day", "analytics_quarantine", ["site_id", "day"])


def downgrade() -> None:
    op.drop_index("ix_analytics_quarantine_site_day", table_name="analytics_quarantine")
    op.drop_table("analytics_quarantine")
