"""sign-in limits in the database: one counter row per (account, client) and per client, so
the limit's check and count are one atomic statement shared by every worker

Revision ID: 0310
Revises: 0300
Create Date: 2026-12-04 15:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0310"
down_revision: str | None = "0300"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sign_in_limits",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("window_ends", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_sign_in_limits")),
    )
    with op.batch_alter_table("sign_in_limits", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sign_in_limits_window_ends"), ["window_ends"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("sign_in_limits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sign_in_limits_window_ends"))
    op.drop_table("sign_in_limits")
