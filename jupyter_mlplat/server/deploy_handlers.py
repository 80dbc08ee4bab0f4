"""REST surface of deployments: ``/mlplat/api/deployments/...`` (see openapi.yaml).

The lab's deploy button and the ``%mlp`` magics (with the kernel token) call these.
"""

from __future__ import annotations

from typing import Any

from tornado import web

from jupyter_mlplat.deploy.gateway import SERVING_PATH, Gateway
from jupyter_mlplat.deploy.models import Deployment, DeployRequest
from jupyter_mlplat.deploy.service import DeployService
from jupyter_mlplat.errors import InvalidInput
from jupyter_mlplat.server.handlers import MLPlatHandler, ProxyHandler


class DeployHandler(MLPlatHandler):
    """Base: the deploy service, called off the event loop (backends block)."""

    kernel_api = True

    @property
    def deploy(self) -> DeployService:
        return self.settings["mlplat_deploy"]

    def body(self) -> Any:
        try:
            return self.get_json_body()
        except web.HTTPError:
            raise InvalidInput("the request body is not valid JSON") from None

    def accepted(self, deployment: Deployment) -> None:
        self.set_status(202)
        self.finish(deployment.public_json())


class DeploymentsHandler(DeployHandler):
    @web.authenticated
    async def get(self) -> None:
        deployments = await self.call(self.deploy.list)
        self.finish({"deployments": [d.public_json() for d in deployments]})

    @web.authenticated
    async def post(self) -> None:
        request = DeployRequest.from_json(self.body())
        self.accepted(await self.call(self.deploy.deploy, request))


class DeploymentHandler(DeployHandler):
    @web.authenticated
    async def get(self, name: str) -> None:
        deployment = await self.call(self.deploy.get, name)
        self.finish(deployment.public_json())

    @web.authenticated
    async def delete(self, name: str) -> None:
        await self.call(self.deploy.delete, name)
        self.set_status(204)
        self.finish()


class PromoteHandler(DeployHandler):
    @web.authenticated
    async def post(self, name: str) -> None:
        self.accepted(await self.call(self.deploy.promote, name))


class RollbackHandler(DeployHandler):
    @web.authenticated
    async def post(self, name: str) -> None:
        self.accepted(await self.call(self.deploy.rollback, name))


class LogHandler(DeployHandler):
    @web.authenticated
    async def get(self, name: str) -> None:
        lines = self.int_argument("tail", 100)
        self.finish({"logs": await self.call(self.deploy.log, name, lines)})


class ServingProxyHandler(ProxyHandler):
    """``/mlplat/serving/v2/models/<name>/...``: local deployments through the Jupyter server
    (its base URL and authentication), for clients that cannot reach the gateway's port."""

    ui_name = "the local inference gateway"
    ui_path = SERVING_PATH
    kernel_api = True

    def upstream(self) -> str:
        gateway = Gateway(self.mlplat.resolved_state_dir)
        return gateway.url if gateway.port else ""


ROUTES: list[tuple[str, type[MLPlatHandler]]] = [
    (r"mlplat/api/deployments", DeploymentsHandler),
    (r"mlplat/api/deployments/([^/]+)", DeploymentHandler),
    (r"mlplat/api/deployments/([^/]+)/promote", PromoteHandler),
    (r"mlplat/api/deployments/([^/]+)/rollback", RollbackHandler),
    (r"mlplat/api/deployments/([^/]+)/log", LogHandler),
    (rf"{SERVING_PATH.rstrip('/')}/?(.*)", ServingProxyHandler),
]
