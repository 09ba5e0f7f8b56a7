"""checkoff rubric grades (one row per group and criterion of the kit's checkoff.yaml) and a
PDF beside a written answer

Revision ID: 0480
Revises: 0470
Create Date: 2026-12-04 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0480"
down_revision: str | None = "0470"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "checkoff_grades",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_key", sa.String(length=16), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("criterion_id", sa.String(length=32), nullable=False),
        sa.Column("applied_items", sa.JSON(), nullable=False),
        sa.Column("adjustment", sa.Double(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("graded_at", sa.DateTime(), nullable=False),
        sa.Column("graded_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["graded_by_id"], ["people.id"], name=op.f("fk_checkoff_grades_graded_by_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["project_groups.id"],
            name=op.f("fk_checkoff_grades_group_id_project_groups"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkoff_grades")),
        sa.UniqueConstraint(
            "assignment_key",
            "group_id",
            "criterion_id",
            name=op.f("uq_checkoff_grades_assignment_key_group_id_criterion_id"),
        ),
    )
    with op.batch_alter_table("checkoff_grades", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_checkoff_grades_group_id"), ["group_id"], unique=False)
    with op.batch_alter_table("written_answers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pdf_link", sa.String(length=512), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("written_answers", schema=None) as batch_op:
        batch_op.drop_column("pdf_link")
    with op.batch_alter_table("checkoff_grades", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_checkoff_grades_group_id"))
    op.drop_table("checkoff_grades")
