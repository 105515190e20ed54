"""staff throttle and break glass approval

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_login_attempts_pair", ["account_hash", "address_hash", "at"], unique=False
        )
    with op.batch_alter_table("break_glass", schema=None) as batch_op:
        batch_op.add_column(sa.Column("minutes", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("needs_approval", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("approved_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("notified", sa.JSON(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_break_glass_approved_by_staff_accounts"),
            "staff_accounts",
            ["approved_by"],
            ["id"],
        )
    op.execute("UPDATE break_glass SET notified = '[]'")
    with op.batch_alter_table("break_glass", schema=None) as batch_op:
        batch_op.alter_column("notified", existing_type=sa.JSON(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("break_glass", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_break_glass_approved_by_staff_accounts"), type_="foreignkey"
        )
        batch_op.drop_column("notified")
        batch_op.drop_column("approved_at")
        batch_op.drop_column("approved_by")
        batch_op.drop_column("needs_approval")
        batch_op.drop_column("minutes")
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_login_attempts_pair")
