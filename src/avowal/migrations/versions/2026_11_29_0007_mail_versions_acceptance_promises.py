"""mail outbox, published versions, change notifications, acceptances, attestations

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mail_outbox",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("purpose", sa.String(length=200), nullable=True),
        sa.Column("key_id", sa.String(length=32), nullable=True),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("envelope", sa.LargeBinary(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_mail_outbox_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_outbox")),
    )
    op.create_index("ix_mail_outbox_subject_id", "mail_outbox", ["subject_id"])
    op.create_index("ix_mail_outbox_status_next", "mail_outbox", ["status", "next_attempt_at"])

    with op.batch_alter_table("policy_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("effective_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("published_by", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("summary", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("previous_id", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("material", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("changes", sa.JSON(), nullable=True))
    # Versions recorded before publishing existed took effect when a server first enforced them.
    op.execute(
        "UPDATE policy_versions SET effective_at = published_at, "
        "published_by = 'server start', changes = '[]'"
    )
    with op.batch_alter_table("policy_versions", schema=None) as batch_op:
        batch_op.alter_column(
            "effective_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )
        batch_op.alter_column("published_by", existing_type=sa.String(length=200), nullable=False)
        batch_op.alter_column("changes", existing_type=sa.JSON(), nullable=False)
        batch_op.create_index("ix_policy_versions_effective_at", ["effective_at"], unique=False)

    op.create_table(
        "change_notifications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("version_id", sa.String(length=64), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=True),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subjects.id"],
            name=op.f("fk_change_notifications_subject_id_subjects"),
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["policy_versions.version_id"],
            name=op.f("fk_change_notifications_version_id_policy_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_notifications")),
        sa.UniqueConstraint(
            "subject_id", "version_id", "via", name=op.f("uq_change_notifications_subject_id")
        ),
    )
    op.create_index("ix_change_notifications_subject_id", "change_notifications", ["subject_id"])

    op.create_table(
        "policy_acceptances",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("version_id", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("shown", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_policy_acceptances_subject_id_subjects")
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["policy_versions.version_id"],
            name=op.f("fk_policy_acceptances_version_id_policy_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_acceptances")),
        sa.UniqueConstraint(
            "subject_id", "version_id", name=op.f("uq_policy_acceptances_subject_id")
        ),
    )
    op.create_index("ix_policy_acceptances_subject_id", "policy_acceptances", ["subject_id"])

    op.create_table(
        "promise_attestations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("promise", sa.String(length=64), nullable=False),
        sa.Column("attested_by", sa.String(length=200), nullable=False),
        sa.Column("attested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promise_attestations")),
    )
    op.create_index("ix_promise_attestations_promise", "promise_attestations", ["promise"])

    op.create_table(
        "audit_verifications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("entries", sa.BigInteger(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_verifications")),
    )
    op.create_index("ix_audit_verifications_at", "audit_verifications", ["at"])


def downgrade() -> None:
    op.drop_index("ix_audit_verifications_at", table_name="audit_verifications")
    op.drop_table("audit_verifications")
    op.drop_index("ix_promise_attestations_promise", table_name="promise_attestations")
    op.drop_table("promise_attestations")
    op.drop_index("ix_policy_acceptances_subject_id", table_name="policy_acceptances")
    op.drop_table("policy_acceptances")
    op.drop_index("ix_change_notifications_subject_id", table_name="change_notifications")
    op.drop_table("change_notifications")
    with op.batch_alter_table("policy_versions", schema=None) as batch_op:
        batch_op.drop_index("ix_policy_versions_effective_at")
        batch_op.drop_column("changes")
        batch_op.drop_column("material")
        batch_op.drop_column("previous_id")
        batch_op.drop_column("summary")
        batch_op.drop_column("published_by")
        batch_op.drop_column("effective_at")
    op.drop_index("ix_mail_outbox_status_next", table_name="mail_outbox")
    op.drop_index("ix_mail_outbox_subject_id", table_name="mail_outbox")
    op.drop_table("mail_outbox")
