"""REST surface of the model registry: ``/mlplat/api/models/...`` (see openapi.yaml)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from tornado import web

from jupyter_mlplat.deploy.registry import Registry
from jupyter_mlplat.errors import InvalidInput
from jupyter_mlplat.server.handlers import MLPlatHandler

T = TypeVar("T")


class RegistryHandler(MLPlatHandler):
    """Base: the registry, called off the event loop (MLflow calls block)."""

    @property
    def registry(self) -> Registry:
        registry = self.settings.get("mlplat_registry")
        if registry is None:
            registry = self.settings["mlplat_registry"] = Registry(self.mlplat)
        return registry

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(
            self.settings["mlplat_executor"], function, *args
        )

    def int_argument(self, name: str, default: int) -> int:
        raw = self.get_argument(name, str(default))
        try:
            return int(raw)
        except ValueError:
            raise InvalidInput(f"{name} must be a whole number, not {raw!r}") from None

    def caller_deployments(self) -> list[Any]:
        """The caller's deployment records (none while no deploy service is configured)."""
        service = self.settings.get("mlplat_deploy")
        if service is None:
            return []
        user = self.mlplat.resolved_user
        return [d for d in service.list() if getattr(d, "owner", user) == user]


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
            return self.registry.version(name, version, self.caller_deployments())

        self.finish(await self.call(describe))


ROUTES: list[tuple[str, type[MLPlatHandler]]] = [
    (r"mlplat/api/models", ModelsHandler),
    (r"mlplat/api/models/([^/]+)", ModelHandler),
    (r"mlplat/api/models/([^/]+)/versions/([^/]+)", ModelVersionHandler),
]
