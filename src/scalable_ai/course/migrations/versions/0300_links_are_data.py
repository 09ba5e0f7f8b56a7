"""links are data: a stored link that is not http(s) (a ``javascript:`` hand-in link, say)
is taken out of its row and kept only in the audit log, flagged ``link.refused``

Before this revision the JSON API stored any text as a hand-in's link, and the pages made it
an ``href``; ``course.links`` now refuses such links when they are stored and when they are
shown. This migration cleans the rows already stored: a submission's link becomes empty
(NULL), a project deliverable's link or code link the empty string, and an append-only
audit entry (``action = "link.refused"``) keeps the original text, so staff can see who
stored what, and nothing is lost.

Revision ID: 0300
Revises: 0200
Create Date: 2026-12-04 14:50:00
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from scalable_ai.course.links import LINK_COLUMNS, is_upload_link, link_problem

revision: str = "0300"
down_revision: str | None = "0200"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MIGRATION_ACTOR = "migration 0300 (links are data)"


def _refused(value: str | None, *, uploads_allowed: bool) -> bool:
    if not value:
        return False
    if uploads_allowed and is_upload_link(value):
        return False
    return link_problem(value.strip()) is not None


def upgrade() -> None:
    bind = op.get_bind()
    metadata = sa.MetaData()
    audit = sa.Table("audit_log", metadata, autoload_with=bind)
    now = datetime.now(UTC).replace(tzinfo=None)
    for table_name, column in LINK_COLUMNS:
        table = sa.Table(table_name, metadata, autoload_with=bind)
        nullable = table.c[column].nullable
        rows = bind.execute(
            sa.select(table.c.id, table.c[column]).where(
                table.c[column].is_not(None), table.c[column] != ""
            )
        ).all()
        for row_id, value in rows:
            if not _refused(value, uploads_allowed=table_name == "submissions"):
                continue
            cleaned = None if nullable else ""
            bind.execute(
                audit.insert().values(
                    at=now,
                    actor_id=None,
                    actor_label=MIGRATION_ACTOR,
                    action="link.refused",
                    entity=table_name,
                    entity_id=str(row_id),
                    before={column: value},
                    after={column: cleaned},
                )
            )
            bind.execute(table.update().where(table.c.id == row_id).values({column: cleaned}))


def downgrade() -> None:
    """Nothing to undo: the refused links stay in the audit log, never back in a page."""
