"""peer reviews: a group's structured review of another group's draft report (five
technical-quality scores, strengths, weaknesses, suggestions)

Revision ID: 0200
Revises: 0100
Create Date: 2026-11-26 02:37:26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0200"
down_revision: str | None = "0100"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "peer_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reviewer_group_id", sa.Integer(), nullable=False),
        sa.Column("reviewed_group_id", sa.Integer(), nullable=False),
        sa.Column("clarity_of_hypothesis", sa.Integer(), nullable=False),
        sa.Column("technical_depth", sa.Integer(), nullable=False),
        sa.Column("correctness", sa.Integer(), nullable=False),
        sa.Column("experimental_rigor", sa.Integer(), nullable=False),
        sa.Column("artifact_quality", sa.Integer(), nullable=False),
        sa.Column("strengths", sa.Text(), nullable=False),
        sa.Column("weaknesses", sa.Text(), nullable=False),
        sa.Column("suggestions", sa.Text(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(), nullable=False),
        sa.Column("submitted_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["reviewed_group_id"],
            ["project_groups.id"],
            name=op.f("fk_peer_reviews_reviewed_group_id_project_groups"),
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_group_id"],
            ["project_groups.id"],
            name=op.f("fk_peer_reviews_reviewer_group_id_project_groups"),
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by_id"], ["people.id"], name=op.f("fk_peer_reviews_submitted_by_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["people.id"], name=op.f("fk_peer_reviews_updated_by_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_peer_reviews")),
        sa.UniqueConstraint(
            "reviewer_group_id",
            "reviewed_group_id",
            name=op.f("uq_peer_reviews_reviewer_group_id_reviewed_group_id"),
        ),
    )
    with op.batch_alter_table("peer_reviews", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_peer_reviews_reviewed_group_id"), ["reviewed_group_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_peer_reviews_reviewer_group_id"), ["reviewer_group_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("peer_reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_peer_reviews_reviewer_group_id"))
        batch_op.drop_index(batch_op.f("ix_peer_reviews_reviewed_group_id"))

    op.drop_table("peer_reviews")
