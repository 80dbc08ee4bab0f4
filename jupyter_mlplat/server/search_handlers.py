"""REST surface of the one search: ``GET /mlplat/api/search?q=&limit=&kind=`` (see openapi.yaml)."""

from __future__ import annotations

from tornado import web

from jupyter_mlplat.search.service import SearchService
from jupyter_mlplat.server.handlers import MLPlatHandler


class SearchHandler(MLPlatHandler):
    """Results grouped by kind; kernels (``%mlp search``) call it too."""

    kernel_api = True

    @property
    def search(self) -> SearchService:
        return self.settings["mlplat_search"]

    @web.authenticated
    async def get(self) -> None:
        query = self.get_argument("q", "")
        limit = self.int_argument("limit", 20)
        kinds = self.get_argument("kind", "")
        self.finish(await self.call(self.search.search, query, limit, kinds))


ROUTES: list[tuple[str, type[MLPlatHandler]]] = [(r"mlplat/api/search", SearchHandler)]
