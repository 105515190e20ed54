"""parental consent requests

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "parental_consents",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("point", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("parent_address", sa.LargeBinary(), nullable=True),
        sa.Column("parent_notice_id", sa.String(length=64), nullable=False),
        sa.Column("refused_purposes", sa.JSON(), nullable=False),
        sa.Column("answer_nonce", sa.String(length=64), nullable=True),
        sa.Column("revoke_nonce", sa.String(length=64), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirm_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("receipt_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_parental_consents_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parental_consents")),
    )
    op.create_index(
        op.f("ix_parental_consents_subject_id"), "parental_consents", ["subject_id"], unique=False
    )
    op.create_index(
        op.f("ix_parental_consents_status"), "parental_consents", ["status"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_parental_consents_status"), table_name="parental_consents")
    op.drop_index(op.f("ix_parental_consents_subject_id"), table_name="parental_consents")
    op.drop_table("parental_consents")
