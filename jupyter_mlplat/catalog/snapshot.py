"""What a table holds now, cheaply: a digest of its input files and schema (no scan).

Spark answers both from the plan (``inputFiles()`` and the schema are analyze calls): a rewrite
or an append gives new part files, hence a new digest; the rows are never read.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

#: Hex characters of a table digest.
DIGEST_LENGTH = 16


@dataclass(frozen=True)
class Snapshot:
    """One table as it is now."""

    table: str
    digest: str
    files: int
    #: ``[{"name", "type"}]`` in Spark's type names.
    columns: tuple[tuple[str, str], ...]
    #: The Spark ``StructType`` (for conversions such as MLflow's schema); not compared.
    struct: Any = None

    def schema_json(self) -> list[dict[str, str]]:
        return [{"name": name, "type": kind} for name, kind in self.columns]


def digest(files: list[str], columns: list[tuple[str, str]]) -> str:
    """The digest of a table made of ``files`` with ``columns`` (order of files irrelevant)."""
    text = json.dumps([sorted(files), columns], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:DIGEST_LENGTH]


def snapshot(spark: Any, table: str, refresh: bool = False) -> Snapshot:
    """The snapshot of ``table`` through ``spark`` (two analyze round trips; raises Spark's
    error for a name that is not a table). A session keeps a table's file listing until it
    writes the table itself: ``refresh`` first drops that (for a session that only observes
    tables written by others; it also re-reads data the session cached)."""
    if refresh:
        spark.catalog.refreshTable(table)
    frame = spark.table(table)
    files = list(frame.inputFiles())
    struct = frame.schema
    columns = [(field.name, field.dataType.simpleString()) for field in struct.fields]
    return Snapshot(table, digest(files, columns), len(files), tuple(columns), struct)
