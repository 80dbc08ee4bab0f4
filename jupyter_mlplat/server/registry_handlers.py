"""REST surface of the model registry: ``/mlplat/api/models/...`` (see openapi.yaml)."""

from __future__ import annotations

from typing import Any

from tornado import web

from jupyter_mlplat.deploy.models import Deployment
from jupyter_mlplat.deploy.registry import Registry
from jupyter_mlplat.server.handlers import MLPlatHandler


class RegistryHandler(MLPlatHandler):
    """Base: the registry, called off the event loop (MLflow calls block)."""

    @property
    def registry(self) -> Registry:
        return self.settings["mlplat_registry"]

    def caller_deployments(self) -> list[Deployment]:
        """The caller's deployment records (the service only lists its owner's)."""
        return self.settings["mlplat_deploy"].list()


class ModelsHandler(RegistryHandler):
    @web.authenticated
    async def get(self) -> None:
        query = self.get_argument("q", "")
        limit = self.int_argument("limit", 50)
        models = await self.call(self.registry.search, query, limit)
        self.finish({"query": query.strip(), "models": models})


class ModelHandler(RegistryHandler):
    @web.authenticated
    async def get(self, name: str) -> None:
        self.finish(await self.call(self.registry.model, name))


class ModelVersionHandler(RegistryHandler):
    @web.authenticated
    async def get(self, name: str, version: str) -> None:
        def describe() -> dict[str, Any]:
            found = self.registry.version(name, version, self.caller_deployments())
            # the version's latest evaluation report (reports tag the version they evaluated)
            found["report"] = self.settings["mlplat_reports"].version_report(found["tags"])
            return found

        self.finish(await self.call(describe))


ROUTES: list[tuple[str, type[MLPlatHandler]]] = [
    (r"mlplat/api/models", ModelsHandler),
    (r"mlplat/api/models/([^/]+)", ModelHandler),
    (r"mlplat/api/models/([^/]+)/versions/([^/]+)", ModelVersionHandler),
]
