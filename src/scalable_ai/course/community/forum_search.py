"""Full-text search over Q&A threads, on each database's own engine (issue 13).

A thread's ``search_text`` holds its title, body and the answers not deleted (kept by the
forum service). SQLite searches it with FTS5 (an external-content table ``forum_search``
kept in step by triggers, ranked by BM25, Porter stemming); PostgreSQL with a GIN index on
``to_tsvector('english', search_text)`` and ``websearch_to_tsquery`` (ranked by
``ts_rank``). Both stem, so "losses" finds "loss". What a student types is never FTS syntax:
each word becomes a quoted term (the last one a prefix, so a search can be typed as it is
thought), all terms must appear.
"""

from __future__ import annotations

import re

from sqlalchemy import ColumnElement, Connection, Select, column, func, literal_column, table, text

from scalable_ai.course.tables.community import ForumThread
from scalable_ai.errors import UserError

FTS_TABLE = "forum_search"
PG_INDEX = "ix_forum_threads_search"
QUERY_MAX = 200
_WORD = re.compile(r"[^\W_]+")

_SQLITE_DDL = (
    f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(search_text, content='forum_threads', "
    "content_rowid='id', tokenize='porter unicode61')",
    f"CREATE TRIGGER {FTS_TABLE}_ai AFTER INSERT ON forum_threads BEGIN "
    f"INSERT INTO {FTS_TABLE}(rowid, search_text) VALUES (new.id, new.search_text); END",
    f"CREATE TRIGGER {FTS_TABLE}_ad AFTER DELETE ON forum_threads BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); END",
    f"CREATE TRIGGER {FTS_TABLE}_au AFTER UPDATE OF search_text ON forum_threads BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); "
    f"INSERT INTO {FTS_TABLE}(rowid, search_text) VALUES (new.id, new.search_text); END",
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')",
)


def create_search_index(connection: Connection) -> None:
    """Make the search index for this database (the 0450 migration calls it)."""
    if connection.dialect.name == "sqlite":
        for statement in _SQLITE_DDL:
            connection.execute(text(statement))
    else:
        connection.execute(
            text(
                f"CREATE INDEX {PG_INDEX} ON forum_threads "
                "USING gin (to_tsvector('english', search_text))"
            )
        )


def drop_search_index(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        for suffix in ("_ai", "_ad", "_au"):
            connection.execute(text(f"DROP TRIGGER IF EXISTS {FTS_TABLE}{suffix}"))
        connection.execute(text(f"DROP TABLE IF EXISTS {FTS_TABLE}"))
    else:
        connection.execute(text(f"DROP INDEX IF EXISTS {PG_INDEX}"))


def is_search_index(name: str | None) -> bool:
    """True for the schema objects above, which the models do not describe (schema checks
    and autogenerate leave them alone)."""
    return bool(name) and (name == PG_INDEX or str(name).startswith(FTS_TABLE))


def words_of(query: str) -> list[str]:
    """The words of what was typed (punctuation and FTS operators dropped)."""
    if len(query) > QUERY_MAX:
        raise UserError(f"a search is at most {QUERY_MAX} characters", field="q")
    return _WORD.findall(query)[:32]


def search_text_of(title: str, body: str, answers: list[str]) -> str:
    return "\n".join([title, body, *answers])


def search(stmt: Select, dialect: str, words: list[str]) -> tuple[Select, ColumnElement[float]]:
    """``stmt`` (a select over threads) narrowed to the threads whose text has every word,
    and a rank to order them by (higher is better)."""
    if dialect == "sqlite":
        terms = [f'"{w}"' for w in words[:-1]] + [f'"{words[-1]}"*']
        index = table(FTS_TABLE, column("rowid"))
        narrowed = stmt.join(index, index.c.rowid == ForumThread.id).where(
            literal_column(FTS_TABLE).op("MATCH")(" ".join(terms))
        )
        return narrowed, -func.bm25(literal_column(FTS_TABLE))
    document = func.to_tsvector("english", ForumThread.search_text)
    # Each word a prefix term ("nccl" finds "NCCL's", "ncc" finds "NCCL"), all required.
    query = func.to_tsquery("english", " & ".join(f"{w}:*" for w in words))
    return stmt.where(document.op("@@")(query)), func.ts_rank(document, query)
