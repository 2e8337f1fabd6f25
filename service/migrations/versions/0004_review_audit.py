"""clinician review of findings, exercise suggestion decisions, audit log, clinic feedback policy

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clinics") as batch:
        batch.add_column(sa.Column("patient_feedback", sa.String(length=20), nullable=False, server_default="all"))

    op.create_table(
        "finding_reviews",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("clinic_id", sa.String(length=36), nullable=False),
        sa.Column("assessment_id", sa.String(length=36), nullable=False),
        sa.Column("finding_index", sa.Integer(), nullable=False),
        sa.Column("finding_code", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("correction", sa.JSON(), nullable=True),
        sa.Column("reviewer_key_id", sa.String(length=36), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["assessment_id"], ["assessments.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_finding_reviews_clinic_id", "finding_reviews", ["clinic_id"])
    op.create_index("ix_finding_reviews_assessment_finding", "finding_reviews",
                    ["assessment_id", "finding_index", "reviewed_at"])

    op.create_table(
        "exercise_suggestion_decisions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("clinic_id", sa.String(length=36), nullable=False),
        sa.Column("assessment_id", sa.String(length=36), nullable=False),
        sa.Column("finding_index", sa.Integer(), nullable=False),
        sa.Column("exercise_key", sa.String(length=50), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("overrides", sa.JSON(), nullable=True),
        sa.Column("decided_by_key_id", sa.String(length=36), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["assessment_id"], ["assessments.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_exercise_suggestion_decisions_clinic_id", "exercise_suggestion_decisions", ["clinic_id"])
    op.create_index("ix_suggestion_decisions_assessment", "exercise_suggestion_decisions",
                    ["assessment_id", "finding_index", "exercise_key", "decided_at"])

    op.create_table(
        "audit_events",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("clinic_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_key_id", sa.String(length=36), nullable=False),
        sa.Column("actor_role", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=50), nullable=False),
        sa.Column("entity_type", sa.String(length=30), nullable=False),
        sa.Column("entity_id", sa.String(length=80), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_events_clinic_at", "audit_events", ["clinic_id", "at"])
    op.create_index("ix_audit_events_entity", "audit_events", ["clinic_id", "entity_type", "entity_id", "at"])


def downgrade() -> None:
    op.drop_table("audit_events")
    op.drop_table("exercise_suggestion_decisions")
    op.drop_table("finding_reviews")
    with op.batch_alter_table("clinics") as batch:
        batch.drop_column("patient_feedback")
