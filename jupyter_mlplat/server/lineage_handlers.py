"""REST surface of lineage: ``/mlplat/api/lineage/...`` (see openapi.yaml)."""

from __future__ import annotations

from tornado import web

from jupyter_mlplat.lineage.service import LineageService
from jupyter_mlplat.server.handlers import MLPlatHandler


class LineageHandler(MLPlatHandler):
    """Base: the lineage service, called off the event loop (MLflow and Spark calls block)."""

    @property
    def lineage(self) -> LineageService:
        return self.settings["mlplat_lineage"]


class TableLineageHandler(LineageHandler):
    @web.authenticated
    async def get(self, table: str) -> None:
        self.finish(await self.call(self.lineage.table, table))


class VersionLineageHandler(LineageHandler):
    @web.authenticated
    async def get(self, name: str, version: str) -> None:
        self.finish(await self.call(self.lineage.version, name, version))


class EventsHandler(LineageHandler):
    """Kernels hand their OpenLineage events to the server, which keeps them (JSON lines in its
    lineage folder) and forwards them to the configured endpoint: kernels know neither."""

    kernel_api = True

    @web.authenticated
    async def post(self) -> None:
        body = self.get_json_body() or {}
        batch = body.get("events") if isinstance(body, dict) else None
        await self.call(self.lineage.keep_events, batch)
        self.set_status(204)
        self.finish()


ROUTES: list[tuple[str, type[MLPlatHandler]]] = [
    (r"mlplat/api/lineage/events", EventsHandler),
    (r"mlplat/api/lineage/tables/([^/]+)", TableLineageHandler),
    (r"mlplat/api/lineage/models/([^/]+)/versions/([^/]+)", VersionLineageHandler),
]
