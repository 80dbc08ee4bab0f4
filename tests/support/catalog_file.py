"""A catalog backend over a JSON file, for tests that need a table to change without Spark.

``MLP_TEST_CATALOG_FILE`` names ``{"db": {"table": {"rows": 150, "columns": ["a", "b"]}}}``;
the test edits the file and the catalog service sees the change on its next describe/refresh.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from jupyter_mlplat.catalog.backend import CatalogBackend, Preview
from jupyter_mlplat.catalog.index import Column, TableEntry
from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.errors import NotFound


class FileCatalog(CatalogBackend):
    def __init__(self, config: MLPlat) -> None:
        self.path = Path(os.environ["MLP_TEST_CATALOG_FILE"])

    def _read(self) -> dict[str, Any]:
        return dict(json.loads(self.path.read_text()))

    def databases(self) -> list[tuple[str, str]]:
        return [(name, "") for name in self._read()]

    def tables(self, database: str) -> list[TableEntry]:
        return [TableEntry(database, name) for name in self._read().get(database, {})]

    def describe(self, database: str, table: str) -> TableEntry:
        spec = self._read().get(database, {}).get(table)
        if spec is None:
            raise NotFound(f"table {database}.{table} does not exist")
        columns = tuple(Column(c, "double") for c in spec.get("columns", ["x"]))
        return TableEntry(database, table, columns=columns, row_count=spec.get("rows"))

    def preview(self, database: str, table: str, limit: int) -> Preview:
        return Preview(columns=[], rows=[], limit=limit, truncated=False)
