"""analytics: Plausible's engagement, non-interactive and revenue events

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

EVENT_COLUMNS: tuple[sa.Column[object], ...] = (
    sa.Column("interactive", sa.Boolean(), nullable=True),
    sa.Column("scroll_depth", sa.SmallInteger(), nullable=True),
    sa.Column("engagement_ms", sa.BigInteger(), nullable=True),
    sa.Column("revenue_amount", sa.String(length=40), nullable=True),
    sa.Column("revenue_currency", sa.String(length=3), nullable=True),
)
DAILY_COLUMNS = ("engaged_ms", "scroll_sum", "scrolls", "revenue_micros")


def upgrade() -> None:
    for column in EVENT_COLUMNS:
        op.add_column("analytics_events", column)
    for name in DAILY_COLUMNS:
        op.add_column(
            "analytics_daily",
            sa.Column(name, sa.BigInteger(), server_default="0", nullable=False),
        )


def downgrade() -> None:
    with op.batch_alter_table("analytics_daily") as batch:
        for name in reversed(DAILY_COLUMNS):
            batch.drop_column(name)
    with op.batch_alter_table("analytics_events") as batch:
        for column in reversed(EVENT_COLUMNS):
            batch.drop_column(column.name)
