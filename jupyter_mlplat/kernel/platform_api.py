"""The kernel's client of the Jupyter server's platform API (deployments, pipelines).

The server gives each kernel its URL (``MLP_API_URL``) and the path of a scoped token file
(``MLP_KERNEL_TOKEN_FILE``); the token opens only the routes meant for kernels. Errors come back
as the platform error of the HTTP status with the server's one-line ``message`` (the ``%mlp``
router shows it).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jupyter_mlplat.config import API_TOKEN_FILE_VARIABLE, API_URL_VARIABLE
from jupyter_mlplat.errors import Conflict, InvalidInput, MLPlatError, NotFound, Unavailable

#: HTTP status -> the platform error it stands for (the inverse of the REST surface's mapping).
_ERRORS: dict[int, type[MLPlatError]] = {
    400: InvalidInput,
    404: NotFound,
    409: Conflict,
    503: Unavailable,
}


class PlatformApi:
    """Calls ``/mlplat/api/...`` on the server that started this kernel."""

    def __init__(self, url: str | None = None, token: str | None = None) -> None:
        self.url = (url if url is not None else os.environ.get(API_URL_VARIABLE, "")).rstrip("/")
        self._token = token

    @property
    def token(self) -> str:
        if self._token is None:
            path = os.environ.get(API_TOKEN_FILE_VARIABLE, "")
            try:
                self._token = Path(path).read_text().strip() if path else ""
            except OSError:
                self._token = ""
        return self._token

    def call(self, method: str, path: str, body: Any = None, timeout: float = 60) -> Any:
        """JSON in, JSON out; a failure raises the platform error with the server's message."""
        if not self.url or not self.token:
            raise Unavailable(
                "this kernel was not started by the platform's Jupyter server "
                f"({API_URL_VARIABLE} / {API_TOKEN_FILE_VARIABLE} are not set)"
            )
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 (the server's own http(s) URL)
            f"{self.url}/mlplat/api/{path.lstrip('/')}",
            data=data,
            method=method,
            headers={"Authorization": f"mlplat {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                raw = response.read()
        except urllib.error.HTTPError as err:
            raise _ERRORS.get(err.code, MLPlatError)(_message(err)) from None
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise Unavailable(
                f"the Jupyter server is unreachable at {self.url}: {reason}"
            ) from None
        return json.loads(raw) if raw else None

    # -- deployments --------------------------------------------------------------------------
    def deployments(self) -> list[dict[str, Any]]:
        return list(self.call("GET", "deployments")["deployments"])

    def deployment(self, name: str) -> dict[str, Any]:
        return dict(self.call("GET", f"deployments/{quote(name, safe='')}"))

    def deploy(self, request: dict[str, Any]) -> dict[str, Any]:
        return dict(self.call("POST", "deployments", request))

    def undeploy(self, name: str) -> None:
        self.call("DELETE", f"deployments/{quote(name, safe='')}")

    def promote(self, name: str) -> dict[str, Any]:
        return dict(self.call("POST", f"deployments/{quote(name, safe='')}/promote", {}))

    def rollback(self, name: str) -> dict[str, Any]:
        return dict(self.call("POST", f"deployments/{quote(name, safe='')}/rollback", {}))

    # -- pipelines (the embedded or team Airflow, through the server) -------------------------
    def pipelines(self) -> dict[str, Any]:
        """``{"pipelines": [...], "import_errors": [...]}``."""
        return dict(self.call("GET", "pipelines"))

    def trigger(self, dag_id: str) -> dict[str, Any]:
        return dict(self.call("POST", f"pipelines/{quote(dag_id, safe='')}/runs", {}))

    def pause(self, dag_id: str, paused: bool = True) -> dict[str, Any]:
        action = "pause" if paused else "unpause"
        return dict(self.call("POST", f"pipelines/{quote(dag_id, safe='')}/{action}", {}))

    # -- evaluation reports (the server's index, synced from MLflow) --------------------------
    def reports(self, query: str = "", limit: int = 20) -> dict[str, Any]:
        """``{"query": ..., "reports": [...]}`` matching ``query`` (see reports.query)."""
        return dict(self.call("GET", f"reports?q={quote(query, safe='')}&limit={int(limit)}"))

    # -- the one search -----------------------------------------------------------------------
    def search(self, query: str, limit: int = 10, kinds: str = "") -> dict[str, Any]:
        """``{"query", "groups": [{"kind", "label", "results"}], "notes", ...}``."""
        path = f"search?q={quote(query, safe='')}&limit={int(limit)}&kind={quote(kinds, safe='')}"
        return dict(self.call("GET", path))


def _message(err: urllib.error.HTTPError) -> str:
    try:
        message = json.loads(err.read() or b"{}").get("message")
    except (ValueError, AttributeError, OSError):
        message = None
    return str(message or f"the server answered {err.code} {err.reason}")
