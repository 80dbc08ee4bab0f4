"""REST surface of the pipelines: ``/mlplat/api/pipelines/...`` and the Airflow UI proxy."""

from __future__ import annotations

from jupyter_server.utils import url_path_join
from tornado import web

from jupyter_mlplat.pipelines.airflow import AIRFLOW_UI_PATH
from jupyter_mlplat.pipelines.service import PipelinesService
from jupyter_mlplat.server.handlers import MLPlatHandler, ProxyHandler

_NAME = r"([^/]+)"


class PipelinesHandler(MLPlatHandler):
    """Base: the pipelines service, called off the event loop (Airflow calls block).

    The kernel's ``%mlp pipeline list|trigger|pause|unpause`` use these routes too."""

    kernel_api = True

    @property
    def pipelines(self) -> PipelinesService:
        return self.settings["mlplat_pipelines"]


class ListHandler(PipelinesHandler):
    @web.authenticated
    async def get(self) -> None:
        self.finish(await self.call(self.pipelines.pipelines))


class RunsHandler(PipelinesHandler):
    @web.authenticated
    async def get(self, dag_id: str) -> None:
        limit = self.int_argument("limit", 10)
        self.finish({"runs": await self.call(self.pipelines.runs, dag_id, limit)})

    @web.authenticated
    async def post(self, dag_id: str) -> None:
        run = await self.call(self.pipelines.trigger, dag_id)
        self.set_status(202)
        self.finish(run)


class PauseHandler(PipelinesHandler):
    paused = True

    @web.authenticated
    async def post(self, dag_id: str) -> None:
        self.finish(await self.call(self.pipelines.set_paused, dag_id, self.paused))


class UnpauseHandler(PauseHandler):
    paused = False


class LogHandler(PipelinesHandler):
    @web.authenticated
    async def get(self, dag_id: str, run_id: str, task_id: str) -> None:
        tail = self.int_argument("tail", 100)
        log = await self.call(self.pipelines.log_tail, dag_id, run_id, task_id, tail)
        self.finish({"log": log})


class AirflowProxyHandler(ProxyHandler):
    """``/mlplat/airflow/<path>``: the embedded Airflow's UI (its ``[api] base_url`` is this
    proxy's public URL, so the path goes upstream whole)."""

    ui_name = "Airflow"
    ui_path = AIRFLOW_UI_PATH

    def upstream(self) -> str:
        return self.mlplat.airflow_url.rstrip("/")

    def upstream_path(self, path: str) -> str:
        return str(url_path_join(self.base_url, AIRFLOW_UI_PATH, path))


ROUTES: list[tuple[str, type[MLPlatHandler]]] = [
    (r"mlplat/api/pipelines", ListHandler),
    (rf"mlplat/api/pipelines/{_NAME}/runs", RunsHandler),
    (rf"mlplat/api/pipelines/{_NAME}/pause", PauseHandler),
    (rf"mlplat/api/pipelines/{_NAME}/unpause", UnpauseHandler),
    (rf"mlplat/api/pipelines/{_NAME}/runs/{_NAME}/tasks/{_NAME}/log", LogHandler),
    (rf"{AIRFLOW_UI_PATH.rstrip('/')}/?(.*)", AirflowProxyHandler),
]
