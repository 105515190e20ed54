"""cookie consents, their links to people, cookie scans

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cookie_consents",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("consent_id", sa.String(length=32), nullable=False),
        sa.Column("banner_version", sa.String(length=12), nullable=False),
        sa.Column("granted", sa.JSON(), nullable=False),
        sa.Column("refused", sa.JSON(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("gpc", sa.Boolean(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("path", sa.String(length=300), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("receipt", sa.JSON(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cookie_consents")),
    )
    op.create_index("ix_cookie_consents_consent_id_at", "cookie_consents", ["consent_id", "at"])
    op.create_table(
        "cookie_consent_links",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("consent_id", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subjects.id"],
            name=op.f("fk_cookie_consent_links_subject_id_subjects"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cookie_consent_links")),
    )
    op.create_index("ix_cookie_consent_links_consent_id", "cookie_consent_links", ["consent_id"])
    op.create_index("ix_cookie_consent_links_subject_id", "cookie_consent_links", ["subject_id"])
    op.create_table(
        "cookie_scans",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("urls", sa.JSON(), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cookie_scans")),
    )
    op.create_index("ix_cookie_scans_at", "cookie_scans", ["at"])


def downgrade() -> None:
    op.drop_index("ix_cookie_scans_at", table_name="cookie_scans")
    op.drop_table("cookie_scans")
    op.drop_index("ix_cookie_consent_links_subject_id", table_name="cookie_consent_links")
    op.drop_index("ix_cookie_consent_links_consent_id", table_name="cookie_consent_links")
    op.drop_table("cookie_consent_links")
    op.drop_index("ix_cookie_consents_consent_id_at", table_name="cookie_consents")
    op.drop_table("cookie_consents")
