"""Full-text search over prompts and revised prompts, each database its own (SQLite FTS5,
migration 0011; PostgreSQL's stored tsvectors and GIN indexes, migration 0012): which runs
match, and their relevance in SQL for gallery.selectors to page through. The one place that
picks the database's search."""

import re

from django.db import NotSupportedError, connection
from django.db.models import Lookup, QuerySet, TextField
from django.db.models.expressions import RawSQL

from gallery.models import SearchRow

# A search reads at most this many words of what was typed (the form holds it to 200 characters).
SEARCH_MAX_WORDS = 16


def words_of(text: str) -> list[str]:
    """The words of a search, as letters and digits only: quotes, operators (NEAR, AND, *, :,
    &, !) and anything else either database's query syntax reads are never passed on."""
    return re.findall(r"\w+", text)[:SEARCH_MAX_WORDS]


@TextField.register_lookup
class FullTextMatch(Lookup):
    """`field__fts=<query>`: SQLite FTS5's MATCH on its table's column. (PostgreSQL reads its
    stored tsvector columns, migration 0012, in POSTGRESQL_MATCHING and POSTGRESQL_SCORED.)"""

    lookup_name = "fts"

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        if connection.vendor == "sqlite":
            return f"{lhs} MATCH {rhs}", (*lhs_params, *rhs_params)
        raise NotSupportedError(f"No full-text search on {connection.vendor}.")


def _search_query(words: list[str]) -> str:
    """Every word must match, as a prefix, stemmed (English) by the database."""
    if connection.vendor == "postgresql":
        return " & ".join(f"'{word}':*" for word in words)
    return " ".join(f'"{word}"*' for word in words)


def matching(runs: QuerySet, text: str) -> QuerySet:
    """Every matching run, unordered (what "select all matching" takes, for one)."""
    words = words_of(text)
    if not words:
        return runs.none()
    match = _search_query(words)
    if connection.vendor == "postgresql":
        return runs.filter(pk__in=RawSQL(POSTGRESQL_MATCHING, [match, match]))  # noqa: S611
    return runs.filter(pk__in=SearchRow.objects.filter(body__fts=match).values("run_id"))


# The runs with a match, by the GIN indexes on the stored tsvectors (migration 0012).
POSTGRESQL_MATCHING = (
    "SELECT id FROM gallery_run WHERE prompt_search @@ to_tsquery('english', %s)"
    " UNION ALL SELECT run_id FROM gallery_image"
    " WHERE revised_prompt_search @@ to_tsquery('english', %s)"
)


# Relevance: a matching run's score is its best row's (its prompt, or an image's revised prompt),
# higher is better: SQLite's bm25 (negated), PostgreSQL's ts_rank. It is kept as a whole number
# (score × 10⁹, rounded in SQL) so that ORDER BY and a page's cursor compare the same exact
# values: no floating-point equality between one page and the next. (SQLite refuses bm25 inside
# an aggregate, hence the matching rows first, MATERIALIZED so that they are not folded into it.
# A row's run comes from its rowid, migration 0011's -run id or image id: reading the table's
# run_id column costs a lookup per match, 3x the whole ranking. PostgreSQL reads the tsvectors
# migration 0012 stores: computing them per match cost 70 µs a row.) SQLite's bm25 weighs a word
# by how rare it is in the whole table, so its scores shift a little when prompts are added or
# removed: a page asked for after that may repeat or miss a run at its edge. PostgreSQL's ts_rank
# reads the row alone.
SQLITE_SCORED = (
    "WITH hits AS MATERIALIZED (SELECT CASE WHEN rowid < 0 THEN -rowid"
    " ELSE (SELECT run_id FROM gallery_image WHERE id = gallery_search.rowid) END AS run_id,"
    " CAST(ROUND(-bm25(gallery_search) * 1e9) AS INTEGER) AS score"
    " FROM gallery_search WHERE gallery_search MATCH %s)"
    " SELECT run_id, MAX(score) AS score FROM hits GROUP BY run_id"
)
POSTGRESQL_SCORED = (
    "SELECT run_id, MAX(score) AS score FROM ("
    " SELECT id AS run_id, (ts_rank(prompt_search, query)::float8 * 1e9)::bigint AS score"
    " FROM gallery_run, to_tsquery('english', %s) AS query WHERE prompt_search @@ query"
    " UNION ALL SELECT run_id, (ts_rank(revised_prompt_search, query)::float8 * 1e9)::bigint"
    " FROM gallery_image, to_tsquery('english', %s) AS query"
    " WHERE revised_prompt_search @@ query"
    ") AS matches GROUP BY run_id"
)


def _scored(words: list[str]) -> tuple[str, list]:
    """SQL for (run_id, score) of every run with a match, and its parameters."""
    match = _search_query(words)
    if connection.vendor == "postgresql":
        return POSTGRESQL_SCORED, [match, match]
    return SQLITE_SCORED, [match]


def ranked_sql(
    runs: QuerySet,
    words: list[str],
    *,
    after: tuple[int, int] | None = None,
    before: tuple[int, int] | None = None,
    limit: int,
    columns: str = "m.run_id, m.score",
) -> tuple[str, list]:
    """SQL for the matching runs among `runs` in relevance order (best first, ties newest first)
    that come after the cursor `after` (score, run id); with `before`, the nearest ones before
    it instead, nearest first. The filters are the ORM's, checked per matching run (EXISTS on
    its primary key), so a search costs what its matches cost, not what the gallery holds."""
    scored, params = _scored(words)
    each = runs.filter(pk=RawSQL("m.run_id", ())).values("pk")
    among, among_params = each.query.sql_with_params()
    sql = f"SELECT {columns} FROM ({scored}) AS m WHERE EXISTS ({among})"  # noqa: S608
    params = [*params, *among_params]
    if after is not None or before is not None:
        than = "<" if after is not None else ">"
        sql += f" AND (m.score {than} %s OR (m.score = %s AND m.run_id {than} %s))"
        score, run_id = after if after is not None else before
        params += [score, score, run_id]
    order = "DESC" if before is None else "ASC"
    sql += f" ORDER BY m.score {order}, m.run_id {order} LIMIT %s"
    return sql, [*params, limit]


def score_of(run_id: int, words: list[str]) -> int | None:
    """A run's score for this search (as ranked_sql orders by); None if it does not match."""
    scored, params = _scored(words)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT score FROM ({scored}) AS m WHERE run_id = %s", [*params, run_id])  # noqa: S608
        row = cursor.fetchone()
    return row[0] if row else None
