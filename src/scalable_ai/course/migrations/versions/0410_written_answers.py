"""written answers: a group's answers to an assignment's conceptual questions with the rubric
items staff applied, and staff's changes to rubric items' points (the questions and rubrics
themselves live in the kit's questions.yaml)

Revision ID: 0410
Revises: 0400
Create Date: 2026-12-04 15:30:55
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0410"
down_revision: str | None = "0400"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rubric_item_points",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_key", sa.String(length=16), nullable=False),
        sa.Column("question_id", sa.String(length=32), nullable=False),
        sa.Column("item_id", sa.String(length=64), nullable=False),
        sa.Column("points", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rubric_item_points")),
        sa.UniqueConstraint(
            "assignment_key",
            "question_id",
            "item_id",
            name=op.f("uq_rubric_item_points_assignment_key_question_id_item_id"),
        ),
    )
    op.create_table(
        "written_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_key", sa.String(length=16), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(), nullable=False),
        sa.Column("submitted_by_id", sa.Integer(), nullable=True),
        sa.Column("applied_items", sa.JSON(), nullable=False),
        sa.Column("adjustment", sa.Double(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("graded_at", sa.DateTime(), nullable=True),
        sa.Column("graded_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["graded_by_id"], ["people.id"], name=op.f("fk_written_answers_graded_by_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["project_groups.id"],
            name=op.f("fk_written_answers_group_id_project_groups"),
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by_id"],
            ["people.id"],
            name=op.f("fk_written_answers_submitted_by_id_people"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_written_answers")),
        sa.UniqueConstraint(
            "assignment_key",
            "group_id",
            "question_id",
            name=op.f("uq_written_answers_assignment_key_group_id_question_id"),
        ),
    )
    with op.batch_alter_table("written_answers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_written_answers_group_id"), ["group_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("written_answers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_written_answers_group_id"))

    op.drop_table("written_answers")
    op.drop_table("rubric_item_points")
