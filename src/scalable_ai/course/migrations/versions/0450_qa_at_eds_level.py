"""Q&A at Ed's level: edits and deletions with their history, resolved threads, follows,
read markers, and full-text search (SQLite FTS5 / PostgreSQL tsvector)

The search index is not a model table: on SQLite it is the FTS5 table ``forum_search``
over ``forum_threads.search_text`` (external content, kept in step by triggers, so a
restored backup is indexed as its rows are inserted); on PostgreSQL a GIN index on
``to_tsvector('english', search_text)``. Both are named in
``scalable_ai.course.community.forum_search`` and left out of model comparisons. A later
migration that makes SQLite rebuild ``forum_threads`` (batch "move and copy") drops the
triggers and must call :func:`create_search_index` again.

Revision ID: 0450
Revises: 0410
Create Date: 2026-12-04 17:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from scalable_ai.course.community.forum_search import create_search_index, drop_search_index

revision: str = "0450"
down_revision: str | None = "0410"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("forum_threads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("activity_at", sa.DateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("activity_count", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("resolved_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("edited_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("deleted_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("search_text", sa.Text(), server_default="", nullable=False))
        batch_op.create_index(
            batch_op.f("ix_forum_threads_activity_at"), ["activity_at"], unique=False
        )
    with op.batch_alter_table("forum_posts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("edited_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("deleted_at", sa.DateTime(), nullable=True))

    op.create_table(
        "forum_revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("thread_id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("replaced_at", sa.DateTime(), nullable=False),
        sa.Column("replaced_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["post_id"], ["forum_posts.id"], name=op.f("fk_forum_revisions_post_id_forum_posts")
        ),
        sa.ForeignKeyConstraint(
            ["replaced_by_id"], ["people.id"], name=op.f("fk_forum_revisions_replaced_by_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["forum_threads.id"],
            name=op.f("fk_forum_revisions_thread_id_forum_threads"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forum_revisions")),
    )
    op.create_index(op.f("ix_forum_revisions_thread_id"), "forum_revisions", ["thread_id"])
    op.create_index(op.f("ix_forum_revisions_post_id"), "forum_revisions", ["post_id"])
    for name, stamp in (("forum_follows", "created_at"), ("forum_reads", "read_at")):
        op.create_table(
            name,
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("person_id", sa.Integer(), nullable=False),
            sa.Column("thread_id", sa.Integer(), nullable=False),
            sa.Column(stamp, sa.DateTime(), nullable=False),
            *(
                [sa.Column("seen_count", sa.Integer(), nullable=False)]
                if stamp == "read_at"
                else []
            ),
            sa.ForeignKeyConstraint(
                ["person_id"], ["people.id"], name=op.f(f"fk_{name}_person_id_people")
            ),
            sa.ForeignKeyConstraint(
                ["thread_id"], ["forum_threads.id"], name=op.f(f"fk_{name}_thread_id_forum_threads")
            ),
            sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
            sa.UniqueConstraint(
                "person_id", "thread_id", name=op.f(f"uq_{name}_person_id_thread_id")
            ),
        )
        op.create_index(op.f(f"ix_{name}_person_id"), name, ["person_id"])
        op.create_index(op.f(f"ix_{name}_thread_id"), name, ["thread_id"])

    # Existing threads: their activity is their newest post, their search text what they say.
    bind = op.get_bind()
    threads = sa.table(
        "forum_threads",
        sa.column("id", sa.Integer),
        sa.column("title", sa.String),
        sa.column("body", sa.Text),
        sa.column("created_at", sa.DateTime),
        sa.column("activity_at", sa.DateTime),
        sa.column("activity_count", sa.Integer),
        sa.column("search_text", sa.Text),
    )
    posts = sa.table(
        "forum_posts",
        sa.column("thread_id", sa.Integer),
        sa.column("body", sa.Text),
        sa.column("created_at", sa.DateTime),
    )
    answers: dict[int, list[tuple]] = {}
    for thread_id, body, created_at in bind.execute(
        sa.select(posts.c.thread_id, posts.c.body, posts.c.created_at)
    ):
        answers.setdefault(thread_id, []).append((body, created_at))
    for thread_id, title, body, created_at in bind.execute(
        sa.select(threads.c.id, threads.c.title, threads.c.body, threads.c.created_at)
    ):
        mine = answers.get(thread_id, [])
        bind.execute(
            threads.update()
            .where(threads.c.id == thread_id)
            .values(
                activity_at=max([created_at, *(at for _, at in mine)]),
                activity_count=1 + len(mine),
                search_text="\n".join([title, body, *(b for b, _ in mine)]),
            )
        )
    create_search_index(bind)


def downgrade() -> None:
    drop_search_index(op.get_bind())
    for name in ("forum_reads", "forum_follows"):
        op.drop_index(op.f(f"ix_{name}_thread_id"), table_name=name)
        op.drop_index(op.f(f"ix_{name}_person_id"), table_name=name)
        op.drop_table(name)
    op.drop_index(op.f("ix_forum_revisions_post_id"), table_name="forum_revisions")
    op.drop_index(op.f("ix_forum_revisions_thread_id"), table_name="forum_revisions")
    op.drop_table("forum_revisions")
    with op.batch_alter_table("forum_posts", schema=None) as batch_op:
        batch_op.drop_column("deleted_at")
        batch_op.drop_column("edited_at")
    with op.batch_alter_table("forum_threads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_forum_threads_activity_at"))
        for column in (
            "search_text",
            "deleted_at",
            "edited_at",
            "resolved_at",
            "activity_count",
            "activity_at",
        ):
            batch_op.drop_column(column)
