"""node health: staff mark a node down (since when, why) and back up

Revision ID: 0470
Revises: 0460
Create Date: 2026-12-04 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0470"
down_revision: str | None = "0460"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("nodes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("down_since", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("down_reason", sa.Text(), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("nodes", schema=None) as batch_op:
        batch_op.drop_column("down_reason")
        batch_op.drop_column("down_since")
