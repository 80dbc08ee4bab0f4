"""REST surface of the pipelines: ``/mlplat/api/pipelines/...`` and the Airflow UI proxy."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from jupyter_server.utils import url_path_join
from tornado import web

from jupyter_mlplat.config import MLPlat, project_folder
from jupyter_mlplat.errors import InvalidInput
from jupyter_mlplat.pipelines.airflow import AIRFLOW_UI_PATH
from jupyter_mlplat.pipelines.cluster import publish_file
from jupyter_mlplat.pipelines.project import write_from_cell
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

    @property
    def root(self) -> Path:
        """The server's root folder (the project the embedded Airflow parses)."""
        return Path(self.settings.get("server_root_dir") or ".").expanduser().resolve()

    def _body(self, shape: str) -> dict[str, Any]:
        try:
            body = self.get_json_body()
        except web.HTTPError:
            raise InvalidInput("the request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise InvalidInput(f"send {shape}")
        return body

    def _export_config(self, notebook: str) -> MLPlat:
        """The server's settings, with the pipelines folder resolved against the server's root
        rather than the server's working directory."""
        folder = project_folder(self.mlplat.pipelines_dir, self.root)
        config = MLPlat(config=self.mlplat.config)
        # set after construction: MLPlat's environment variables win over constructor values
        config.pipelines_dir, config.notebook_path = str(folder), notebook
        return config


class ListHandler(PipelinesHandler):
    @web.authenticated
    async def get(self) -> None:
        self.finish(await self.call(self.pipelines.pipelines))

    @web.authenticated
    async def post(self) -> None:
        """The lab's *Export notebook as pipeline*: ``{"name", "schedule", "source"}`` (the
        notebook's marked cells) becomes ``<pipelines>/<name>.py`` once Airflow imports it."""
        body = self._body('{"name", "schedule", "source"}')
        name, schedule, source = (body.get(k) for k in ("name", "schedule", "source"))
        notebook = body.get("notebook") or ""
        for key, value in (("name", name), ("source", source), ("notebook", notebook)):
            if not isinstance(value, str):
                raise InvalidInput(f"{key} must be a string")
        if schedule is not None and not isinstance(schedule, str):
            raise InvalidInput("schedule must be a string or null")
        config = self._export_config(notebook)
        written = await self.call(write_from_cell, name, source, schedule or None, config)
        answer = {
            "dag_id": written.name,
            "owner": config.resolved_user,
            "schedule": schedule or None,
            "file": written.path.name,
        }
        if config.pipelines_publish == "kubernetes":  # on to the team's Airflow, as local sees it
            publish = partial(publish_file, dag_ids=written.dag_ids)
            answer["published"] = (await self.call(publish, config, written.path))["configmaps"]
        self.set_status(201)
        self.finish(answer)


class PublishHandler(PipelinesHandler):
    """``{"path"}`` (a .py file under the server's root): the file reaches the Airflow that
    runs the user's pipelines (a ConfigMap for the team's Airflow on Kubernetes; nothing to do
    for the local one)."""

    kernel_api = False  # the kernel's %mlp pipeline publish does it itself, with the same rights

    @web.authenticated
    async def post(self) -> None:
        given = self._body('{"path": "<a .py file, relative to the server\'s root>"}').get("path")
        if not isinstance(given, str) or not given:
            raise InvalidInput("path must be a .py file, relative to the server's root")
        root = self.root
        try:
            path = (root / given).resolve()
        except (OSError, ValueError):
            raise InvalidInput(f"not a file path: {given!r}") from None
        if not path.is_relative_to(root):
            raise InvalidInput(f"{given!r} is outside the server's root")
        done = await self.call(publish_file, self._export_config(""), path)
        if done["mode"] == "folder":  # the folder relative to the root: no server paths out
            folder = Path(done["folder"])
            done["folder"] = (
                folder.relative_to(root).as_posix() if folder.is_relative_to(root) else folder.name
            )
        self.finish({**done, "file": path.relative_to(root).as_posix()})


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
    (r"mlplat/api/pipelines/publish", PublishHandler),
    (rf"mlplat/api/pipelines/{_NAME}/runs", RunsHandler),
    (rf"mlplat/api/pipelines/{_NAME}/pause", PauseHandler),
    (rf"mlplat/api/pipelines/{_NAME}/unpause", UnpauseHandler),
    (rf"mlplat/api/pipelines/{_NAME}/runs/{_NAME}/tasks/{_NAME}/log", LogHandler),
    (rf"{AIRFLOW_UI_PATH.rstrip('/')}/?(.*)", AirflowProxyHandler),
]
