"""The kernel's client of the Jupyter server's platform API (deployments, pipelines).

The server gives each kernel its URL (``MLP_API_URL``) and the path of a scoped token file
(``MLP_KERNEL_TOKEN_FILE``); the token opens only the routes meant for kernels. Errors come back
as the platform error of the HTTP status with the server's one-line ``message`` (the ``%mlp``
router shows it).
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

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
        self._kept: http.client.HTTPConnection | None = None  # for get()
        self._kept_lock = threading.Lock()

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

    def get(self, path: str, timeout: float = 5) -> Any:
        """``GET`` over one connection kept open between calls, for frequent small lookups
        (completion): no TCP and HTTP set-up per call. Errors as :meth:`call`."""
        if not self.url or not self.token:
            return self.call("GET", path)  # raises the one "not started by the platform" error
        target = urlsplit(self.url)
        headers = {"Authorization": f"mlplat {self.token}"}
        with self._kept_lock:
            for attempt in (1, 2):
                if self._kept is None:
                    kind = http.client.HTTPSConnection if target.scheme == "https" else None
                    self._kept = (kind or http.client.HTTPConnection)(
                        target.hostname or "127.0.0.1", target.port, timeout=timeout
                    )
                try:
                    url = f"{target.path}/mlplat/api/{path.lstrip('/')}"
                    self._kept.request("GET", url, headers=headers)
                    response = self._kept.getresponse()
                    raw = response.read()
                    break
                except (http.client.HTTPException, OSError) as err:
                    self._kept.close()  # the server closed an idle connection, or is gone
                    self._kept = None
                    if attempt == 2 or isinstance(err, TimeoutError):
                        raise Unavailable(
                            f"the Jupyter server is unreachable at {self.url}: {err}"
                        ) from None
        if response.status >= 400:
            message = _message_of(raw) or f"the server answered {response.status}"
            raise _ERRORS.get(response.status, MLPlatError)(message)
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
        body = err.read()
    except OSError:
        body = b""
    return _message_of(body) or f"the server answered {err.code} {err.reason}"


def _message_of(body: bytes) -> str:
    """The ``message`` of an error reply's JSON body, or ""."""
    try:
        return str(json.loads(body or b"{}").get("message") or "")
    except (ValueError, AttributeError):
        return ""
