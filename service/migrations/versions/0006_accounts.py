"""people: users, browser sessions, one-time login links; named actors in the audit log and reviews;
patient-link secrets; new clinics show patients signed-off findings only

Existing clinics keep their patient_feedback value; only the default for new rows changes.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clinics") as batch:
        batch.add_column(sa.Column("link_secret", sa.String(length=64), nullable=True))
        batch.alter_column(
            "patient_feedback",
            existing_type=sa.String(length=20),
            existing_nullable=False,
            server_default="signed_off_only",
        )
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("actor_type", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("actor_name", sa.String(length=300), nullable=True))
    with op.batch_alter_table("finding_reviews") as batch:
        batch.add_column(sa.Column("reviewer_name", sa.String(length=300), nullable=True))
    with op.batch_alter_table("exercise_suggestion_decisions") as batch:
        batch.add_column(sa.Column("decided_by_name", sa.String(length=300), nullable=True))

    op.create_table(
        "users",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("clinic_id", sa.String(length=36), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email"),
    )
    op.create_index("ix_users_clinic_id", "users", ["clinic_id"])

    op.create_table(
        "user_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("clinic_id", sa.String(length=36), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("via", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_user_sessions_user_id", "user_sessions", ["user_id"])

    op.create_table(
        "login_links",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_login_links_user_id", "login_links", ["user_id"])


def downgrade() -> None:
    op.drop_table("login_links")
    op.drop_table("user_sessions")
    op.drop_table("users")
    with op.batch_alter_table("exercise_suggestion_decisions") as batch:
        batch.drop_column("decided_by_name")
    with op.batch_alter_table("finding_reviews") as batch:
        batch.drop_column("reviewer_name")
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("actor_name")
        batch.drop_column("actor_type")
    with op.batch_alter_table("clinics") as batch:
        batch.alter_column(
            "patient_feedback", existing_type=sa.String(length=20), existing_nullable=False, server_default="all"
        )
        batch.drop_column("link_secret")
