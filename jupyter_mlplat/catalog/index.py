"""Search index of the metadata catalog: fast listing and substring / typo-tolerant search.

One SQLite file (or ``":memory:"``) holds the catalog the service last read:

* ``catalog_databases`` and ``catalog_tables`` for listing, with indexes on the lower-cased name
  and ``db.name`` for exact and prefix lookups;
* ``name_suffixes``: every suffix of every lower-cased table name (first 24 characters), so a
  name substring of any length is one range scan, however large the catalog or rare the match;
* vocabularies of the distinct column names and comment words (the table's comment and its
  columns' comments), each with an FTS5 ``trigram``
  index for substring search and postings to the tables using them. A query term holds no
  whitespace, so it matches a comment exactly when it matches within one of its words;
* the words of table names with symmetric-delete keys for fuzzy search: a misspelt word
  (``custmer``) finds the name words within edit distance 1-2 (``customer``, ``customers``).

Completion (``complete``, ``columns_of``) reads names by prefix: one range scan of the
``name_lower`` / ``qualified_lower`` indexes per lookup, whatever the catalog's size.

Search runs stages from the best kind of match to the worst (exact name, name prefix, name
substring, column name, comment, fuzzy), each bounded by a ``LIMIT``, and stops as soon as
``limit`` hits are known. No stage scans postings that grow with the catalog: the trigram
indexes cover vocabularies, which grow far slower than the number of tables.

Thread safety: one writer at a time (a lock) and, for files, WAL mode with one read connection
per thread, so searches never wait for a refresh. ``":memory:"`` shares a single connection.
"""

# SQL text here is composed only of this module's constants; every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import hashlib
import itertools
import json
import re
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

MAX_LIMIT = 500
MAX_TERMS = 8  # per query
MAX_TERM_LENGTH = 100  # characters of a query term, column name or comment word
MAX_WORDS_PER_COMMENT = 200  # distinct words of one comment that are indexed
SUFFIX_LENGTH = 24  # characters of each name suffix kept; longer terms are verified
MIN_TRIGRAM_LENGTH = 3  # shorter terms match column names and comment words by prefix
MATCHED_TERMS = 100  # vocabulary entries one column / comment search follows
MIN_WORD_LENGTH = 3  # shorter name words are not in the fuzzy vocabulary
MAX_WORD_LENGTH = 32
MAX_CORRECTIONS = 8  # spellings tried per misspelt query word
MAX_SPELLINGS = 16  # corrected spellings tried per query term
MAX_MISSPELT_WORDS = 4  # per query term; more and it is no typo
SCHEMA_VERSION = 3  # 3: column comments are searched like table comments

NAME, PREFIX, SUBSTRING, COLUMN, COMMENT, FUZZY = range(6)
MATCH_KIND = {NAME: "name", PREFIX: "name", SUBSTRING: "name", COLUMN: "column"}
MATCH_KIND |= {COMMENT: "comment", FUZZY: "fuzzy"}

_WORD = re.compile(r"[^\W\d_]+")  # runs of letters: "fct_payments_v3" -> fct, payments, v
_RANGE_END = "\U0010ffff"  # sorts after every character a name can continue with


@dataclass(frozen=True)
class Column:
    """One column of a table."""

    name: str
    type: str
    nullable: bool = True
    comment: str = ""
    partition: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TableEntry:
    """A table as the index knows it; ``columns`` is empty until a describe filled it in."""

    database: str
    name: str
    comment: str = ""
    type: str = "MANAGED"  # MANAGED / EXTERNAL / VIEW / TEMPORARY
    columns: tuple[Column, ...] = ()
    format: str = ""
    location: str = ""
    row_count: int | None = None
    partition_columns: tuple[str, ...] = ()

    @property
    def qualified_name(self) -> str:
        return f"{self.database}.{self.name}"

    def to_json(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "name": self.name,
            "qualified_name": self.qualified_name,
            "comment": self.comment,
            "type": self.type,
            "columns": [column.to_json() for column in self.columns],
            "format": self.format,
            "location": self.location,
            "row_count": self.row_count,
            "partition_columns": list(self.partition_columns),
        }


@dataclass(frozen=True)
class SearchHit:
    """A search result: the table (without columns), how it matched, and its score."""

    table: TableEntry
    match: str  # "name" | "column" | "comment" | "fuzzy"
    score: float  # higher is better; results come sorted by it
    column: str = ""  # the matching column, for match == "column"

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.table.to_json(),
            "match": self.match,
            "score": self.score,
            "column": self.column,
        }


@dataclass(frozen=True)
class CompletionItem:
    """A database or table offered for completion; ``text`` is what gets inserted."""

    text: str
    kind: str  # "database" | "table"
    database: str
    name: str = ""  # the table's name ("" for a database)
    comment: str = ""
    type: str = ""  # the table's type (MANAGED, VIEW, ...)

    def to_json(self) -> dict[str, Any]:
        return {  # not asdict(): a completion answer holds hundreds of these
            "text": self.text,
            "kind": self.kind,
            "database": self.database,
            "name": self.name,
            "comment": self.comment,
            "type": self.type,
        }


@dataclass(frozen=True)
class Completions:
    """What :meth:`CatalogIndex.complete` found; ``complete``: nothing left out by the limit."""

    items: list[CompletionItem]
    complete: bool


# -- schema ------------------------------------------------------------------------------------

_TERM_FIELDS = ("column", "comment")  # vocabulary + trigram index + postings
_VOCABULARIES = (*_TERM_FIELDS, "name_word")  # name words: vocabulary + fuzzy keys

_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS catalog_databases (
    name TEXT PRIMARY KEY,
    comment TEXT NOT NULL DEFAULT '',
    table_count INTEGER NOT NULL DEFAULT 0,
    refreshed_at REAL
);
CREATE TABLE IF NOT EXISTS catalog_tables (
    id INTEGER PRIMARY KEY,
    database_name TEXT NOT NULL,
    name TEXT NOT NULL,
    name_lower TEXT NOT NULL,
    qualified_lower TEXT NOT NULL,
    comment TEXT NOT NULL,
    table_type TEXT NOT NULL,
    format TEXT NOT NULL,
    location TEXT NOT NULL,
    row_count INTEGER,
    partition_columns TEXT NOT NULL,
    columns TEXT NOT NULL,
    column_names TEXT NOT NULL,
    UNIQUE (database_name, name)
);
CREATE INDEX IF NOT EXISTS catalog_tables_by_name ON catalog_tables (name_lower);
CREATE INDEX IF NOT EXISTS catalog_tables_by_qualified ON catalog_tables (qualified_lower);
CREATE TABLE IF NOT EXISTS name_suffixes (
    suffix TEXT NOT NULL,
    table_id INTEGER NOT NULL,
    PRIMARY KEY (suffix, table_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS word_variants (
    key INTEGER NOT NULL,
    word_id INTEGER NOT NULL,
    PRIMARY KEY (key, word_id)
) WITHOUT ROWID;
"""
    + "".join(
        f"""
CREATE TABLE IF NOT EXISTS {vocabulary}_terms (
    id INTEGER PRIMARY KEY,
    term TEXT NOT NULL UNIQUE,
    refs INTEGER NOT NULL
);
"""
        for vocabulary in _VOCABULARIES
    )
    + "".join(
        f"""
CREATE VIRTUAL TABLE IF NOT EXISTS {field}_term_search USING fts5 (
    term, content='{field}_terms', content_rowid='id', tokenize='trigram', columnsize=0);
CREATE TRIGGER IF NOT EXISTS {field}_term_added AFTER INSERT ON {field}_terms BEGIN
    INSERT INTO {field}_term_search (rowid, term) VALUES (new.id, new.term);
END;
CREATE TRIGGER IF NOT EXISTS {field}_term_dropped AFTER DELETE ON {field}_terms BEGIN
    INSERT INTO {field}_term_search ({field}_term_search, rowid, term)
        VALUES ('delete', old.id, old.term);
END;
CREATE TABLE IF NOT EXISTS {field}_postings (
    term_id INTEGER NOT NULL,
    table_id INTEGER NOT NULL,
    PRIMARY KEY (term_id, table_id)
) WITHOUT ROWID;
"""
        for field in _TERM_FIELDS
    )
)

# Stored per table besides the key, in the order of ``_stored_values``.
_STORED = (
    "comment, table_type, format, location, row_count, partition_columns, columns, column_names"
)
_COMMENT, _COLUMNS, _COLUMN_NAMES = 0, 6, 7  # positions in ``_STORED``
_INSERT_TABLE = (
    "INSERT INTO catalog_tables (id, database_name, name, name_lower, qualified_lower, "
    f"{_STORED}) VALUES ({', '.join('?' * 13)})"
)
_UPDATE_TABLE = (
    "UPDATE catalog_tables SET comment = ?, table_type = ?, format = ?, location = ?, "
    "row_count = ?, partition_columns = ?, columns = ?, column_names = ? WHERE id = ?"
)
# What search reads per candidate (everything but the column details).
_CANDIDATE = (
    "t.id, t.database_name, t.name, t.name_lower, t.qualified_lower, t.comment, t.table_type, "
    "t.format, t.location, t.row_count, t.partition_columns, t.column_names, t.columns"
)

# Tables whose lower-cased name contains a text (of up to SUFFIX_LENGTH characters).
_CONTAINING = (
    f"SELECT {_CANDIDATE} FROM name_suffixes s CROSS JOIN catalog_tables t "
    "ON t.id = s.table_id WHERE s.suffix >= ? AND s.suffix < ? LIMIT ?"
)


class CatalogIndex:
    """The catalog's search index in a SQLite file (or ``":memory:"``)."""

    def __init__(self, path: str | Path) -> None:
        self.path = path
        self._in_memory = str(path) == ":memory:"
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        if not self._in_memory:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._writer = self._connect()
        if not self._in_memory:
            self._writer.execute("PRAGMA journal_mode = WAL")
            self._writer.execute("PRAGMA synchronous = NORMAL")
            self._writer.execute("PRAGMA cache_size = -65536")  # 64 MiB for bulk refreshes
            self._writer.execute("PRAGMA journal_size_limit = 67108864")  # WAL file <= 64 MiB
        self._create_schema()

    # -- connections -------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            str(self.path), timeout=10.0, isolation_level=None, check_same_thread=False
        )
        with self._connections_lock:
            self._connections.append(conn)
        return conn

    def _create_schema(self) -> None:
        with self._write_lock:
            conn = self._writer
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            drops = ""
            if version not in (0, SCHEMA_VERSION):  # an older layout: the index is only a cache
                old = [
                    row[0]
                    for row in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")
                ]
                drops = "".join(
                    f'DROP TABLE IF EXISTS "{name}";\n'
                    for name in old
                    if not name.startswith("sqlite_") and "_search_" not in name
                )
            try:
                conn.executescript(
                    f"BEGIN IMMEDIATE;\n{drops}{_SCHEMA}\n"
                    f"PRAGMA user_version = {SCHEMA_VERSION};\nCOMMIT;"
                )
            except sqlite3.OperationalError as error:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise RuntimeError(
                    "the catalog index needs SQLite with FTS5 and its trigram tokenizer (3.34+); "
                    f"this Python has {sqlite3.sqlite_version}: {error}"
                ) from error

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """The writer connection inside one ``BEGIN IMMEDIATE`` transaction."""
        with self._write_lock:
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """A connection with one consistent snapshot; never blocked by the writer in WAL mode."""
        if self._in_memory:
            with self._write_lock:
                yield self._writer
            return
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
            conn.execute("PRAGMA query_only = ON")
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    def close(self) -> None:
        """Close every connection this index opened (any thread's)."""
        with self._connections_lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()

    def __enter__(self) -> CatalogIndex:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- writing -----------------------------------------------------------------------------

    def replace_database(
        self, database: str, tables: Iterable[TableEntry], comment: str = ""
    ) -> None:
        """Make ``database`` hold exactly ``tables`` (one transaction) and mark it refreshed.

        Tables that are gone are dropped; the others are inserted or updated, keeping what a
        listing cannot know (columns, partition columns, format, location, row count) when the
        new entry leaves it empty. Unchanged tables are not rewritten.
        """
        incoming: dict[str, TableEntry] = {}
        for entry in tables:
            if entry.database != database:
                raise ValueError(f"{entry.qualified_name} is not in database {database!r}")
            incoming[entry.name] = entry
        with self._writing() as conn:
            stored = {
                row[1]: row
                for row in conn.execute(
                    f"SELECT id, name, {_STORED} FROM catalog_tables WHERE database_name = ?",
                    (database,),
                )
            }
            next_id = _next_table_id(conn)  # taken before deleting: ids are not reused at once
            changes = _IndexChanges()
            gone = [row for name, row in stored.items() if name not in incoming]
            for row in gone:
                changes.remove(row[0], row[1], row[2 + _COLUMN_NAMES], _comment_text(row[2:]))
            conn.executemany("DELETE FROM catalog_tables WHERE id = ?", [(r[0],) for r in gone])
            inserts, updates = [], []
            for name, entry in incoming.items():
                previous = stored.get(name)
                values = _stored_values(entry, previous[2:] if previous else None)
                if previous is None:
                    inserts.append((next_id, *_key_values(entry), *values))
                    changes.add(next_id, name, values[_COLUMN_NAMES], _comment_text(values))
                    next_id += 1
                elif values != previous[2:]:
                    updates.append((*values, previous[0]))
                    changes.update(previous[0], previous[2:], values)
            conn.executemany(_INSERT_TABLE, inserts)
            conn.executemany(_UPDATE_TABLE, updates)
            changes.apply(conn)
            conn.execute(
                "INSERT INTO catalog_databases (name, comment, table_count, refreshed_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET comment = excluded.comment, "
                "table_count = excluded.table_count, refreshed_at = excluded.refreshed_at",
                (database, comment, len(incoming), time.time()),
            )

    def upsert_table(self, entry: TableEntry) -> None:
        """Insert or update one table (e.g. after a describe filled in its columns)."""
        with self._writing() as conn:
            previous = conn.execute(
                f"SELECT id, {_STORED} FROM catalog_tables WHERE database_name = ? AND name = ?",
                (entry.database, entry.name),
            ).fetchone()
            values = _stored_values(entry, previous[1:] if previous else None)
            changes = _IndexChanges()
            if previous is not None:
                if values != previous[1:]:
                    conn.execute(_UPDATE_TABLE, (*values, previous[0]))
                    changes.update(previous[0], previous[1:], values)
                    changes.apply(conn)
                return
            table_id = _next_table_id(conn)
            conn.execute(_INSERT_TABLE, (table_id, *_key_values(entry), *values))
            changes.add(table_id, entry.name, values[_COLUMN_NAMES], _comment_text(values))
            changes.apply(conn)
            conn.execute(
                "INSERT INTO catalog_databases (name, table_count) VALUES (?, 1) "
                "ON CONFLICT (name) DO UPDATE SET table_count = table_count + 1",
                (entry.database,),
            )

    def remove_database(self, database: str) -> None:
        """Forget a database and its tables."""
        with self._writing() as conn:
            changes = _IndexChanges()
            for table_id, name, column_names, comment, columns in conn.execute(
                "SELECT id, name, column_names, comment, columns FROM catalog_tables "
                "WHERE database_name = ?",
                (database,),
            ).fetchall():
                changes.remove(table_id, name, column_names, _comments(comment, columns))
            conn.execute("DELETE FROM catalog_tables WHERE database_name = ?", (database,))
            changes.apply(conn)
            conn.execute("DELETE FROM catalog_databases WHERE name = ?", (database,))

    # -- reading -----------------------------------------------------------------------------

    def databases(self) -> list[dict[str, Any]]:
        """Every database: name, comment, table count, ``refreshed_at`` (epoch s, or None)."""
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT name, comment, table_count, refreshed_at FROM catalog_databases "
                "ORDER BY name"
            ).fetchall()
        return [
            {"name": name, "comment": comment, "table_count": count, "refreshed_at": refreshed}
            for name, comment, count, refreshed in rows
        ]

    def tables(self, database: str) -> list[TableEntry]:
        """The tables of ``database``, sorted by name, with whatever columns are known."""
        with self._reading() as conn:
            rows = conn.execute(
                f"SELECT database_name, name, {_STORED} FROM catalog_tables "
                "WHERE database_name = ? ORDER BY name",
                (database,),
            ).fetchall()
        return [_full_entry(row) for row in rows]

    def table(self, database: str, name: str) -> TableEntry | None:
        """One table; names are matched exactly first, then case-insensitively."""
        select = f"SELECT database_name, name, {_STORED} FROM catalog_tables"
        with self._reading() as conn:
            row = (
                conn.execute(
                    f"{select} WHERE database_name = ? AND name = ?", (database, name)
                ).fetchone()
                or conn.execute(
                    f"{select} WHERE qualified_lower = ? ORDER BY id LIMIT 1",
                    (f"{database}.{name}".lower(),),
                ).fetchone()
            )
        return _full_entry(row) if row else None

    def complete(self, prefix: str, limit: int = 100) -> Completions:
        """Databases and tables whose names start with ``prefix`` (case-insensitive), for
        completion as the user types a table name.

        ``de`` offers the databases ``de*``, the tables ``de*.*`` by qualified name and the
        tables named ``de*`` in any database (as ``db.name``); ``demo.ir`` the tables
        ``demo.ir*``. Each lookup is one range scan of an index (``catalog_databases``'s few
        rows are scanned), so the cost does not grow with the catalog. ``complete`` says
        whether every match is listed: a client may then filter the list for longer prefixes.
        """
        text = prefix.lower()
        limit = max(1, min(int(limit), MAX_LIMIT))
        end = text + _RANGE_END
        items: list[CompletionItem] = []
        truncated = False
        with self._reading() as conn:
            if "." not in text:
                rows = conn.execute(
                    "SELECT name, comment FROM catalog_databases WHERE lower(name) >= ? "
                    "AND lower(name) < ? ORDER BY lower(name) LIMIT ?",
                    (text, end, limit + 1),
                ).fetchall()
                truncated = len(rows) > limit
                items += [CompletionItem(n, "database", n, "", c) for n, c in rows[:limit]]
            keys = ["qualified_lower"] if "." in text else ["qualified_lower", "name_lower"]
            seen: set[tuple[str, str]] = set()
            for key in keys:
                if truncated:  # the list is full: what follows would be cut off anyway
                    break
                wanted = limit - len(items)
                rows = conn.execute(
                    "SELECT database_name, name, comment, table_type FROM catalog_tables "
                    f"WHERE {key} >= ? AND {key} < ? ORDER BY {key}, qualified_lower LIMIT ?",
                    (text, end, wanted + len(seen) + 1),  # (bare names repeat seen tables)
                ).fetchall()
                fresh = [row for row in rows if (row[0], row[1]) not in seen]
                truncated = len(fresh) > wanted
                for database, name, comment, table_type in fresh[:wanted]:
                    seen.add((database, name))
                    qualified = f"{database}.{name}"
                    items.append(
                        CompletionItem(qualified, "table", database, name, comment, table_type)
                    )
        return Completions(items, complete=not truncated)

    def columns_of(self, table: str) -> tuple[Column, ...] | None:
        """The indexed columns of ``db.name``, or of a bare ``name`` (in ``default`` if it is
        there, as Spark resolves it, else in the first database holding it); None when the
        index knows no such table. Empty when the table was never described."""
        key = "qualified_lower" if "." in table else "name_lower"
        with self._reading() as conn:
            row = conn.execute(
                f"SELECT columns FROM catalog_tables WHERE {key} = ? "
                "ORDER BY database_name != 'default', database_name LIMIT 1",
                (table.lower(),),
            ).fetchone()
        return None if row is None else _columns(row[0])

    def count(self) -> int:
        """How many tables the index holds."""
        with self._reading() as conn:
            row = conn.execute("SELECT sum(table_count) FROM catalog_databases").fetchone()
        return int(row[0] or 0)

    def stale_databases(self, max_age_seconds: float) -> list[str]:
        """Databases not refreshed for ``max_age_seconds`` (or never), the oldest first."""
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT name FROM catalog_databases "
                "WHERE refreshed_at IS NULL OR refreshed_at <= ? ORDER BY refreshed_at, name",
                (time.time() - max_age_seconds,),
            ).fetchall()
        return [row[0] for row in rows]

    def search(self, query: str, limit: int = 50) -> list[SearchHit]:
        """Tables matching every whitespace-separated term of ``query``, best first.

        Case-insensitive. A term matches a table's name (or ``db.name`` when it holds a dot)
        exactly, as a prefix or as a substring, else a column name, else the table comment;
        terms under 3 characters match column names and comment words by prefix. When that
        finds fewer than ``limit`` tables, misspelt words are corrected against the words of
        table names. At most ``limit`` (capped at 500) hits, the best-matching term first.
        """
        limit = max(0, min(int(limit), MAX_LIMIT))
        terms = _query_terms(query)
        if not terms or not limit:
            return []
        with self._reading() as conn:
            return _Search(conn, terms, limit).run()


# -- writing helpers ---------------------------------------------------------------------------


def _key_values(entry: TableEntry) -> tuple[str, str, str, str]:
    return entry.database, entry.name, entry.name.lower(), entry.qualified_name.lower()


def _next_table_id(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT coalesce(max(id), 0) + 1 FROM catalog_tables").fetchone()[0])


def _stored_values(entry: TableEntry, previous: tuple[Any, ...] | None) -> tuple[Any, ...]:
    """The row values of ``entry`` (order of ``_STORED``); empty fields keep ``previous``."""
    columns = json.dumps(
        [[c.name, c.type, c.nullable, c.comment, c.partition] for c in entry.columns],
        separators=(",", ":"),
    )
    values = (
        entry.comment,
        entry.type,
        entry.format,
        entry.location,
        entry.row_count,
        json.dumps(list(entry.partition_columns)),
        columns,
        "\n".join(c.name for c in entry.columns),  # no query term holds a newline
    )
    if previous is None:
        return values
    unknown = ("", "", "", "", None, "[]", "[]", "")
    return tuple(
        old if index >= 2 and new == empty else new  # comment and type come from listings
        for index, (new, old, empty) in enumerate(zip(values, previous, unknown, strict=True))
    )


def _full_entry(row: tuple[Any, ...]) -> TableEntry:
    database, name, comment, table_type, fmt, location, row_count, partitions, columns, _ = row
    return TableEntry(
        database=database,
        name=name,
        comment=comment,
        type=table_type,
        columns=_columns(columns),
        format=fmt,
        location=location,
        row_count=row_count,
        partition_columns=tuple(json.loads(partitions)),
    )


def _columns(stored: str) -> tuple[Column, ...]:
    return tuple(
        Column(name=c[0], type=c[1], nullable=c[2], comment=c[3], partition=c[4])
        for c in json.loads(stored)
    )


def _name_suffixes(name: str) -> set[str]:
    """The indexed suffixes of a table name: lower-cased, cut to ``SUFFIX_LENGTH``."""
    lower = name.lower()
    return {lower[i : i + SUFFIX_LENGTH] for i in range(len(lower))}


def _name_words(name: str) -> set[str]:
    """The words of a name that the fuzzy vocabulary holds."""
    return {
        word
        for word in _WORD.findall(name.lower())
        if MIN_WORD_LENGTH <= len(word) <= MAX_WORD_LENGTH
    }


def _column_terms(column_names: str) -> set[str]:
    return {name[:MAX_TERM_LENGTH] for name in column_names.lower().split("\n") if name}


def _comments(comment: str, columns: str) -> str:
    """What comment words are indexed from: the table's comment and its columns' comments."""
    column_comments = [c[3] for c in json.loads(columns or "[]") if c[3]]
    return "\n".join([comment, *column_comments]) if column_comments else comment


def _comment_text(values: tuple[Any, ...]) -> str:
    """:func:`_comments` of a stored row's values (in the order of ``_STORED``)."""
    return _comments(values[_COMMENT], values[_COLUMNS])


def _comment_terms(comment: str) -> set[str]:
    words = dict.fromkeys(word[:MAX_TERM_LENGTH] for word in comment.lower().split())
    return set(itertools.islice(words, MAX_WORDS_PER_COMMENT))


class _IndexChanges:
    """What one write transaction adds to and removes from the search structures."""

    def __init__(self) -> None:
        # (added, removed) pairs of (suffix or term, table id)
        self.suffixes: tuple[list[tuple[str, int]], list[tuple[str, int]]] = ([], [])
        self.terms = {vocabulary: self._pair() for vocabulary in _VOCABULARIES}

    @staticmethod
    def _pair() -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
        return [], []

    def add(self, table_id: int, name: str, column_names: str, comment: str) -> None:
        self._track(0, table_id, name, column_names, comment)

    def remove(self, table_id: int, name: str, column_names: str, comment: str) -> None:
        self._track(1, table_id, name, column_names, comment)

    def update(self, table_id: int, old: tuple[Any, ...], new: tuple[Any, ...]) -> None:
        """A stored table's columns or comment changed (its name never does)."""
        for vocabulary, text_of, terms_of in (
            ("column", lambda values: values[_COLUMN_NAMES], _column_terms),
            ("comment", _comment_text, _comment_terms),
        ):
            if text_of(old) != text_of(new):
                before, after = terms_of(text_of(old)), terms_of(text_of(new))
                added, removed = self.terms[vocabulary]
                added.extend((term, table_id) for term in after - before)
                removed.extend((term, table_id) for term in before - after)

    def _track(self, side: int, table_id: int, name: str, column_names: str, comment: str) -> None:
        self.suffixes[side].extend((suffix, table_id) for suffix in _name_suffixes(name))
        for vocabulary, terms in (
            ("name_word", _name_words(name)),
            ("column", _column_terms(column_names)),
            ("comment", _comment_terms(comment)),
        ):
            self.terms[vocabulary][side].extend((term, table_id) for term in terms)

    def apply(self, conn: sqlite3.Connection) -> None:
        """Write the changes; in key order, which makes B-tree updates several times faster."""
        added, removed = self.suffixes
        conn.executemany(
            "DELETE FROM name_suffixes WHERE suffix = ? AND table_id = ?", sorted(removed)
        )
        conn.executemany("INSERT OR IGNORE INTO name_suffixes VALUES (?, ?)", sorted(added))
        for vocabulary, (added, removed) in self.terms.items():
            _apply_term_changes(conn, vocabulary, added, removed)


def _apply_term_changes(
    conn: sqlite3.Connection,
    vocabulary: str,
    added: list[tuple[str, int]],
    removed: list[tuple[str, int]],
) -> None:
    """Reference-count a vocabulary; keep postings / fuzzy keys; drop terms nobody uses."""
    delta: Counter[str] = Counter(term for term, _ in added)
    delta.subtract(term for term, _ in removed)
    ids: dict[str, int] = {}
    dropped: list[tuple[str, int]] = []
    for term, change in delta.items():
        if change > 0:
            term_id, refs = conn.execute(
                f"INSERT INTO {vocabulary}_terms (term, refs) VALUES (?, ?) ON CONFLICT (term) "
                "DO UPDATE SET refs = refs + excluded.refs RETURNING id, refs",
                (term, change),
            ).fetchone()
            if refs == change and vocabulary == "name_word":
                conn.executemany(
                    "INSERT OR IGNORE INTO word_variants (key, word_id) VALUES (?, ?)",
                    [(key, term_id) for key in _variant_keys(term)],
                )
        else:
            term_id, refs = conn.execute(
                f"UPDATE {vocabulary}_terms SET refs = refs + ? WHERE term = ? RETURNING id, refs",
                (change, term),
            ).fetchone()
            if refs <= 0:
                dropped.append((term, term_id))
        ids[term] = term_id
    if vocabulary in _TERM_FIELDS:
        conn.executemany(
            f"DELETE FROM {vocabulary}_postings WHERE term_id = ? AND table_id = ?",
            sorted((ids[term], table_id) for term, table_id in removed),
        )
        conn.executemany(
            f"INSERT OR IGNORE INTO {vocabulary}_postings (term_id, table_id) VALUES (?, ?)",
            sorted((ids[term], table_id) for term, table_id in added),
        )
    conn.executemany(f"DELETE FROM {vocabulary}_terms WHERE id = ?", [(i,) for _, i in dropped])
    if vocabulary == "name_word":
        conn.executemany(
            "DELETE FROM word_variants WHERE key = ? AND word_id = ?",
            [(key, word_id) for word, word_id in dropped for key in _variant_keys(word)],
        )


# -- fuzzy matching ----------------------------------------------------------------------------


def _max_distance(word: str) -> int:
    """Typos tolerated in a word: 1 up to 4 letters, 2 from 5."""
    return 1 if len(word) <= 4 else 2


def _variant_keys(word: str) -> set[int]:
    """Hashes of ``word`` with up to ``_max_distance(word)`` letters deleted."""
    variants = {word}
    for _ in range(_max_distance(word)):
        variants |= {v[:i] + v[i + 1 :] for v in variants for i in range(len(v))}
    return {
        int.from_bytes(hashlib.blake2b(v.encode(), digest_size=8).digest(), "big", signed=True)
        for v in variants
    }


def _edit_distance(a: str, b: str) -> int:
    """Optimal-string-alignment distance: insertions, deletions, substitutions, swaps."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


# -- search ------------------------------------------------------------------------------------


def _query_terms(query: str) -> list[str]:
    """Distinct lower-case terms; control characters and backticks dropped, sizes capped."""
    terms: list[str] = []
    for raw in query.lower().split():
        term = "".join(ch for ch in raw if ch.isprintable() and ch != "`")[:MAX_TERM_LENGTH]
        if term and term not in terms:
            terms.append(term)
    return terms[:MAX_TERMS]


def _suffix_windows(term: str) -> list[str]:
    """What to look up in ``name_suffixes`` for ``term``: itself, or 3 of its 24-char parts."""
    if len(term) <= SUFFIX_LENGTH:
        return [term]
    middle = (len(term) - SUFFIX_LENGTH) // 2
    starts = (0, len(term) - SUFFIX_LENGTH, middle)
    return list(dict.fromkeys(term[i : i + SUFFIX_LENGTH] for i in starts))


def _phrase(text: str) -> str:
    """``text`` as an FTS5 phrase string: matched literally, whatever it holds."""
    return '"' + text.replace('"', '""') + '"'


@dataclass
class _Candidate:
    """A table found by some stage, with the columns search needs to rank it."""

    id: int
    database: str
    name: str
    name_lower: str
    qualified_lower: str
    comment: str
    type: str
    format: str
    location: str
    row_count: int | None
    partition_columns: str
    column_names: str
    columns: str

    def entry(self) -> TableEntry:
        return TableEntry(
            database=self.database,
            name=self.name,
            comment=self.comment,
            type=self.type,
            format=self.format,
            location=self.location,
            row_count=self.row_count,
            partition_columns=tuple(json.loads(self.partition_columns)),
        )


@dataclass(frozen=True)
class _TermMatch:
    """How one term matched one table: its tier, how close (0-1), the column if any."""

    tier: int
    closeness: float
    column: str = ""


def _match_term(term: str, table: _Candidate) -> _TermMatch | None:
    """The best exact (non-fuzzy) way ``term`` matches ``table``, or None."""
    target = table.qualified_lower if "." in term else table.name_lower
    if term in target:
        tier = NAME if term == target else PREFIX if target.startswith(term) else SUBSTRING
        return _TermMatch(tier, len(term) / len(target))
    if term in table.column_names.lower():
        columns = [c for c in table.column_names.split("\n") if term in c.lower()]
        best = min(columns, key=lambda c: (c.lower() != term, not c.lower().startswith(term)))
        return _TermMatch(COLUMN, len(term) / len(best), best)
    comment = _comments(table.comment, table.columns).lower()
    if term in comment:
        return _TermMatch(COMMENT, len(term) / len(comment))
    return None


def _score(tiers: list[int], closeness: float) -> float:
    """Best tier first, then the average tier of all terms, then closeness (all in one float)."""
    best = min(tiers)
    average = sum(FUZZY - tier for tier in tiers) / len(tiers)
    return round((FUZZY - best) * 100 + average * 10 + closeness, 4)


@dataclass(frozen=True)
class _Ranked:
    score: float
    table: _Candidate
    match: str
    column: str = ""


class _Search:
    """One search: stages that add candidates until ``limit`` hits are known."""

    def __init__(self, conn: sqlite3.Connection, terms: list[str], limit: int) -> None:
        self.conn = conn
        self.terms = terms
        self.limit = limit
        # Candidates one term found may fail another term: fetch more when there are several.
        self.fetch = limit if len(terms) == 1 else min(limit * 4, 2 * MAX_LIMIT)
        self.anchors = sorted(terms, key=len, reverse=True)  # the longest is the most selective
        self.hits: dict[int, _Ranked] = {}
        self.seen: set[int] = set()

    def run(self) -> list[SearchHit]:
        stages: list[Callable[[], None]] = [
            self._exact_names,
            self._name_prefixes,
            self._name_substrings,
            lambda: self._vocabulary("column"),
            lambda: self._vocabulary("comment"),
            self._fuzzy,
        ]
        for stage in stages:
            stage()
            if len(self.hits) >= self.limit:  # later stages only find worse matches
                break
        ranked = sorted(self.hits.values(), key=lambda h: (-h.score, h.table.qualified_lower))
        return [
            SearchHit(hit.table.entry(), hit.match, hit.score, hit.column)
            for hit in ranked[: self.limit]
        ]

    # stages

    def _exact_names(self) -> None:
        for term in self.anchors:
            key = "qualified_lower" if "." in term else "name_lower"
            self._add(
                f"SELECT {_CANDIDATE} FROM catalog_tables t WHERE {key} = ? LIMIT ?",
                (term, self.fetch),
            )

    def _name_prefixes(self) -> None:
        for term in self.anchors:
            key = "qualified_lower" if "." in term else "name_lower"
            self._add(
                f"SELECT {_CANDIDATE} FROM catalog_tables t "
                f"WHERE {key} >= ? AND {key} < ? ORDER BY {key} LIMIT ?",
                (term, term + _RANGE_END, self.fetch),
            )

    def _name_substrings(self) -> None:
        for term in self.anchors:
            if "." in term:  # "mo.iri" in "demo.iris": the name starts with what follows the dot
                name_part = term.rpartition(".")[2]
                if name_part:
                    self._add(
                        f"SELECT {_CANDIDATE} FROM catalog_tables t "
                        "WHERE name_lower >= ? AND name_lower < ? ORDER BY name_lower LIMIT ?",
                        (name_part, name_part + _RANGE_END, self.fetch),
                    )
            else:
                for window in _suffix_windows(term):
                    if self._add_containing(window, self.fetch) < self.fetch:
                        break  # every name holding this part of the term was looked at
            if len(self.hits) >= self.limit:
                return

    def _vocabulary(self, vocabulary: str) -> None:
        """Tables with a column name / comment word equal to, starting with or holding a term."""
        for term in self.anchors:
            term_ids = self._matching_terms(vocabulary, term)
            budget = self.fetch * 4  # postings rows read, hits or not
            for term_id in term_ids:
                if budget <= 0 or len(self.hits) >= self.limit:
                    break
                budget -= self._add(
                    f"SELECT {_CANDIDATE} FROM {vocabulary}_postings p CROSS JOIN "
                    "catalog_tables t ON t.id = p.table_id WHERE p.term_id = ? LIMIT ?",
                    (term_id, min(budget, self.fetch)),
                )
            if len(self.hits) >= self.limit:
                return

    def _matching_terms(self, vocabulary: str, term: str) -> list[int]:
        """Ids of vocabulary entries equal to ``term``, then starting with it, then holding it."""
        rows = self.conn.execute(
            f"SELECT id FROM {vocabulary}_terms WHERE term >= ? AND term < ? ORDER BY term LIMIT ?",
            (term, term + _RANGE_END, MATCHED_TERMS),
        ).fetchall()
        if len(term) >= MIN_TRIGRAM_LENGTH:
            rows += self.conn.execute(
                f"SELECT rowid FROM {vocabulary}_term_search WHERE {vocabulary}_term_search "
                "MATCH ? LIMIT ?",
                (_phrase(term), MATCHED_TERMS),
            ).fetchall()
        return list(dict.fromkeys(row[0] for row in rows))[:MATCHED_TERMS]

    def _fuzzy(self) -> None:
        """Tables whose names hold corrected spellings of the terms no table name has."""
        spellings = {term: self._spellings(term) for term in self.terms}
        fuzzy_terms = [term for term in self.terms if spellings[term]]
        if not fuzzy_terms:
            return
        anchor = max(fuzzy_terms, key=len)
        found: dict[int, _Candidate] = {}
        for spelling, _ in spellings[anchor]:
            key = spelling[:SUFFIX_LENGTH]
            for table in self._candidates(_CONTAINING, (key, key + _RANGE_END, self.fetch)):
                found.setdefault(table.id, table)
            if len(found) >= self.fetch:
                break
        for table in found.values():
            if table.id in self.hits:  # (tables that failed exact matching may pass here)
                continue
            distance = 0
            for term in self.terms:
                if spellings[term]:
                    distances = [d for s, d in spellings[term] if s in table.name_lower]
                    if not distances:
                        break
                    distance += min(distances)
                elif _match_term(term, table) is None:
                    break
            else:
                closeness = 0.5 / (1 + distance) + 0.5 * len(anchor) / len(table.name_lower)
                self.hits[table.id] = _Ranked(_score([FUZZY], min(closeness, 1.0)), table, "fuzzy")

    def _spellings(self, term: str) -> list[tuple[str, int]]:
        """Corrected spellings of ``term`` with their edit distance, closest first.

        Empty when every word of ``term`` is spelt like a word of some table name (then exact
        matching already had its chance), or a misspelt word has no close name word, or more
        than ``MAX_MISSPELT_WORDS`` words are misspelt.
        """
        if "." in term or len(term) < MIN_WORD_LENGTH:
            return []
        words = [m for m in _WORD.finditer(term) if MIN_WORD_LENGTH <= len(m[0]) <= MAX_WORD_LENGTH]
        texts = list(dict.fromkeys(m[0] for m in words))
        if not texts:
            return []
        known = {
            row[0]
            for row in self.conn.execute(
                f"SELECT term FROM name_word_terms WHERE term IN ({', '.join('?' * len(texts))})",
                texts,
            )
        }
        if not 0 < len(texts) - len(known) <= MAX_MISSPELT_WORDS:
            return []
        # Beam search over the words, left to right: the closest MAX_SPELLINGS prefixes survive.
        spellings, end = [("", 0)], 0
        for match in words:
            word = match[0]
            corrections = [(word, 0)] if word in known else self._corrections(word)
            if not corrections:
                return []
            between = term[end : match.start()]
            extended = [
                (f"{spelling}{between}{correction}", distance + extra)
                for spelling, distance in spellings
                for correction, extra in corrections
            ]
            spellings = sorted(extended, key=lambda s: (s[1], s[0]))[:MAX_SPELLINGS]
            end = match.end()
        return [(spelling + term[end:], distance) for spelling, distance in spellings]

    def _corrections(self, word: str) -> list[tuple[str, int]]:
        """Name words within ``_max_distance(word)`` edits of ``word``, closest first."""
        keys = list(_variant_keys(word))
        candidates = self.conn.execute(
            "SELECT DISTINCT w.term FROM word_variants v JOIN name_word_terms w "
            f"ON w.id = v.word_id WHERE v.key IN ({', '.join('?' * len(keys))})",
            keys,
        ).fetchall()
        close = sorted(
            (distance, abs(len(candidate) - len(word)), candidate)
            for (candidate,) in candidates
            if (distance := _edit_distance(word, candidate)) <= _max_distance(word)
        )
        return [(candidate, distance) for distance, _, candidate in close[:MAX_CORRECTIONS]]

    # helpers

    def _candidates(self, sql: str, parameters: tuple[Any, ...]) -> list[_Candidate]:
        return [_Candidate(*row) for row in self.conn.execute(sql, parameters)]

    def _add_containing(self, text: str, count: int) -> int:
        """Rank up to ``count`` tables whose names contain ``text``."""
        return self._add(_CONTAINING, (text, text + _RANGE_END, count))

    def _add(self, sql: str, parameters: tuple[Any, ...]) -> int:
        """Rank the tables ``sql`` selects (those failing a term are skipped); rows read."""
        candidates = self._candidates(sql, parameters)
        for table in candidates:
            if table.id in self.seen:
                continue
            self.seen.add(table.id)
            matches = [_match_term(term, table) for term in self.terms]
            found = [m for m in matches if m is not None]
            if len(found) < len(matches):
                continue
            best = min(found, key=lambda m: (m.tier, -m.closeness))
            score = _score([m.tier for m in found], best.closeness)
            self.hits[table.id] = _Ranked(score, table, MATCH_KIND[best.tier], best.column)
        return len(candidates)
