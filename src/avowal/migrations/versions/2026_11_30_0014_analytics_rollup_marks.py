"""analytics: incremental rollups (how far each site's events are rolled up)

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analytics_rollup_marks",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("through_id", sa.BigInteger(), nullable=False),
        sa.Column("rolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("site_id", name=op.f("pk_analytics_rollup_marks")),
    )


def downgrade() -> None:
    op.drop_table("analytics_rollup_marks")
