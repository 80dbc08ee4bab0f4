"""HTTP handlers. Thin: parse the request, call one service, render JSON.

Every handler derives from :class:`MLPlatHandler`, which refuses unauthenticated requests
(403) and maps service errors to HTTP statuses in one place.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlparse

from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from jupyter_server.utils import url_path_join
from tornado import httpclient, httputil, web

from jupyter_mlplat._version import __version__
from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.errors import InvalidInput, MLPlatError
from jupyter_mlplat.server.kernel_api import kernel_user
from jupyter_mlplat.tracking.auth import user_authorization
from jupyter_mlplat.tracking.health import probe
from jupyter_mlplat.tracking.ui import MLFLOW_UI_PATH

T = TypeVar("T")


class MLPlatHandler(ExtensionHandlerMixin, APIHandler):
    """Base handler: authentication required, platform errors become ``{"message": ...}``."""

    #: Also accept the kernels' scoped token (``Authorization: mlplat <token>``, see kernel_api).
    kernel_api = False

    @property
    def mlplat(self) -> MLPlat:
        return self.settings["mlplat_config"]

    async def prepare(self) -> None:  # type: ignore[override]
        kernel = kernel_user(self)
        if kernel is not None:
            # a header a browser cannot send cross-site without CORS: no XSRF check needed
            if not self.check_host():
                raise web.HTTPError(403)
            self.current_user = self._jupyter_current_user = kernel
            return
        await super().prepare()
        if self.current_user is None:
            raise web.HTTPError(403, "authentication required")

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        """Run a blocking service call (MLflow, Spark, Kubernetes) off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(
            self.settings["mlplat_executor"], function, *args
        )

    def int_argument(self, name: str, default: int) -> int:
        """A whole-number query argument; a clear 400 otherwise."""
        raw = self.get_argument(name, str(default))
        try:
            return int(raw)
        except ValueError:
            raise InvalidInput(f"{name} must be a whole number, not {raw!r}") from None

    def _handle_request_exception(self, e: BaseException) -> None:
        if isinstance(e, MLPlatError) and not self._finished:
            self.set_status(e.status)
            self.finish({"message": str(e)})
            return
        super()._handle_request_exception(e)


class StatusHandler(MLPlatHandler):
    """``GET /mlplat/api/status``: what the platform is connected to."""

    @web.authenticated
    async def get(self) -> None:
        config = self.mlplat
        loop, executor = asyncio.get_running_loop(), self.settings["mlplat_executor"]
        health = (
            await loop.run_in_executor(executor, probe, config.tracking_uri, 2.0)
            if config.tracking_uri
            else None
        )
        spark = await loop.run_in_executor(executor, self.settings["mlplat_spark"].state)
        self.finish(
            {
                "version": __version__,
                "user": config.resolved_user,
                "tracking": {
                    "uri": config.tracking_uri,
                    "ui_path": MLFLOW_UI_PATH,
                    "reachable": bool(health and health.ok),
                    "detail": health.detail if health else "not configured",
                    "experiment": config.experiment_for(),
                    "autolog": config.autolog,
                    "async_logging": config.async_logging,
                    "artifact_proxy": config.artifact_proxy,
                },
                "spark": {"mode": config.spark_mode, "endpoint": "", **spark},
                "catalog": {"backend": config.catalog_backend},
                "deploy": {"target": config.deploy_target, "namespace": config.namespace},
            }
        )


# Headers that describe one hop, or carry the Jupyter session: never forwarded to MLflow.
_REQUEST_HEADERS_DROPPED = {
    "host",
    "cookie",
    "authorization",
    "origin",
    "referer",
    "x-xsrftoken",
    "connection",
    "keep-alive",
    "te",
    "upgrade",
    "proxy-authorization",
    "transfer-encoding",
    "content-length",
}
_RESPONSE_HEADERS_DROPPED = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "set-cookie",
    "server",
    "date",
    "x-frame-options",
}


class ProxyHandler(MLPlatHandler):
    """A web UI served by another local server, proxied behind Jupyter authentication.

    Works under any base URL (a JupyterHub user path). The response is streamed, so artifact
    downloads from the UI do not collect in the server's memory. Subclasses say where the
    upstream is and which request path is asked of it.
    """

    #: The UI's name in error messages.
    ui_name = ""
    #: The proxy's path under the server's base URL (``mlplat/.../``).
    ui_path = ""

    def upstream(self) -> str:
        """The upstream server's URL ('' when none is configured)."""
        raise NotImplementedError

    def upstream_path(self, path: str) -> str:
        """The path asked of the upstream for ``path`` (the part after ``ui_path``)."""
        return path

    def upstream_headers(self) -> dict[str, str]:
        """Headers the proxy adds to every request (the browser's own are never forwarded)."""
        return {}

    @property
    def content_security_policy(self) -> str:
        """A page, not an API reply: the UI may run its scripts, framed by the lab only."""
        return "frame-ancestors 'self'"

    def check_xsrf_cookie(self) -> None:
        """The UI sends no Jupyter XSRF token: require a same-origin request instead."""
        if not hasattr(self, "_jupyter_current_user") or self.token_authenticated:
            return
        source = self.request.headers.get("Origin") or self.request.headers.get("Referer")
        if not source or urlparse(source).netloc != self.request.host:
            raise web.HTTPError(403, f"cross-origin request to the {self.ui_name} proxy refused")

    @web.authenticated
    async def get(self, path: str) -> None:
        if not path and not self.request.path.endswith("/"):
            self.redirect(self.request.path + "/")  # the UI loads its files relative to "/"
            return
        await self._proxy(path)

    @web.authenticated
    async def head(self, path: str) -> None:
        await self._proxy(path)

    @web.authenticated
    async def post(self, path: str) -> None:
        await self._proxy(path)

    @web.authenticated
    async def put(self, path: str) -> None:
        await self._proxy(path)

    @web.authenticated
    async def patch(self, path: str) -> None:
        await self._proxy(path)

    @web.authenticated
    async def delete(self, path: str) -> None:
        await self._proxy(path)

    async def _proxy(self, path: str) -> None:
        upstream = self.upstream()
        if not upstream:
            raise web.HTTPError(503, f"no {self.ui_name} server is configured")
        if ".." in path.split("/"):
            raise web.HTTPError(400, "invalid path")
        url = url_path_join(upstream, self.upstream_path(path))
        if self.request.query:
            url += "?" + self.request.query
        headers = httputil.HTTPHeaders()
        for name, value in self.request.headers.get_all():
            if name.lower() not in _REQUEST_HEADERS_DROPPED:
                headers.add(name, value)
        for name, value in self.upstream_headers().items():
            headers[name] = value
        method = self.request.method or "GET"
        has_body = method in {"POST", "PUT", "PATCH", "DELETE"}
        request = httpclient.HTTPRequest(
            url,
            method=method,
            headers=headers,
            body=self.request.body if has_body else None,
            allow_nonstandard_methods=True,
            follow_redirects=False,
            decompress_response=False,
            request_timeout=3600,
            header_callback=self._on_header_line,
            streaming_callback=self._on_chunk,
        )
        try:  # raise_error=False keeps HTTP errors as responses; a refused connection raises
            response = await httpclient.AsyncHTTPClient().fetch(request, raise_error=False)
            error = response.error if response.code == 599 else None
        except OSError as err:
            error = err
        if error is not None:
            raise web.HTTPError(502, f"{self.ui_name} is not reachable at {upstream}: {error}")
        self.finish()

    def _on_header_line(self, line: str) -> None:
        line = line.rstrip("\r\n")
        if line.startswith("HTTP/"):
            start = httputil.parse_response_start_line(line)
            self.set_status(start.code, start.reason)
            self.clear_header("Content-Type")
        elif line and ":" in line:
            name, _, value = line.partition(":")
            if name.strip().lower() in _RESPONSE_HEADERS_DROPPED:
                return
            if name.strip().lower() == "location":
                value = self._rewrite_location(value.strip())
            self.add_header(name.strip(), value.strip())

    def _rewrite_location(self, location: str) -> str:
        upstream = self.upstream()
        if location.startswith(upstream):
            location = location[len(upstream) :]
        if location.startswith("/"):
            return url_path_join(self.base_url, self.ui_path, location)
        return location

    def _on_chunk(self, chunk: bytes) -> None:
        self.write(chunk)
        self.flush()


class MLflowProxyHandler(ProxyHandler):
    """``/mlplat/mlflow/<path>``: the MLflow UI and its API."""

    ui_name = "MLflow"
    ui_path = MLFLOW_UI_PATH

    def upstream(self) -> str:
        return self.mlplat.resolved_ui_url

    def upstream_headers(self) -> dict[str, str]:
        """The UI acts as this server's MLflow user (its own credential, when it has one)."""
        authorization = user_authorization()
        return {"Authorization": authorization} if authorization else {}


#: The routes of this module (all of them are in jupyter_mlplat.server.routes).
ROUTES: list[tuple[str, type[MLPlatHandler]]] = [
    (r"mlplat/api/status", StatusHandler),
    (rf"{MLFLOW_UI_PATH.rstrip('/')}/?(.*)", MLflowProxyHandler),
]
