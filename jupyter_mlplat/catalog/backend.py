"""What a metastore backend of the catalog must answer (``MLPlat.catalog_backend`` names one)."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Any

from jupyter_mlplat.catalog.index import TableEntry
from jupyter_mlplat.catalog.snapshot import Snapshot
from jupyter_mlplat.infra.plugins import Backend


@dataclass(frozen=True)
class Preview:
    """The first rows of a table, JSON-ready."""

    columns: list[dict[str, str]]
    rows: list[list[Any]]
    limit: int
    truncated: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "columns": self.columns,
            "rows": self.rows,
            "limit": self.limit,
            "truncated": self.truncated,
        }


class CatalogBackend(Backend):
    """Databases, tables, descriptions and previews of one metastore."""

    kind = "catalog"
    noun = "catalog backend"

    @abstractmethod
    def databases(self) -> list[tuple[str, str]]:
        """``(name, description)`` of every database."""

    @abstractmethod
    def tables(self, database: str) -> list[TableEntry]:
        """The tables of ``database`` (columns may be left for :meth:`describe`)."""

    @abstractmethod
    def describe(self, database: str, table: str) -> TableEntry:
        """One table with its columns, comment and statistics."""

    @abstractmethod
    def preview(self, database: str, table: str, limit: int) -> Preview:
        """The first ``limit`` rows."""

    def snapshot(self, database: str, table: str) -> Snapshot | None:
        """The table's current digest (see ``catalog.snapshot``); None when this metastore
        cannot say without reading the data."""
        return None

    def close(self) -> None:
        """Let go of connections."""
