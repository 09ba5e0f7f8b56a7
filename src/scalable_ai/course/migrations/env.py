"""Alembic's environment for the course database.

Configured in code by :func:`scalable_ai.course.db.alembic_config` (no alembic.ini), so it
runs from an installed package. A caller may hand over an open connection in
``config.attributes["connection"]`` (tests and :func:`scalable_ai.course.db.upgrade` do).
``render_as_batch`` lets later revisions alter tables on SQLite.
"""

from __future__ import annotations

from alembic import context

from scalable_ai.course.community.forum_search import is_search_index
from scalable_ai.course.tables import Base

config = context.config
target_metadata = Base.metadata


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Autogenerate leaves the Q&A search index alone (its migration makes it per database)."""
    return not is_search_index(name)


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        from scalable_ai.course.db import make_engine

        engine = make_engine(config.get_main_option("sqlalchemy.url"))
        with engine.begin() as own_connection:
            context.configure(
                connection=own_connection,
                target_metadata=target_metadata,
                render_as_batch=True,
                include_name=include_name,
            )
            context.run_migrations()
        engine.dispose()
        return
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        include_name=include_name,
    )
    context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
