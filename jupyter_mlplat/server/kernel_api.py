"""A narrowly scoped API token for kernels: the ``%mlp`` magics call the server with it.

Kernels must not hold the Jupyter token (it opens files, terminals and other kernels). At
start the extension creates a random token, writes it (mode 0600) to a file in the Jupyter
runtime directory, and kernels get the file's path (``MLP_KERNEL_TOKEN_FILE``) and the server's
URL (``MLP_API_URL``). The token is accepted as ``Authorization: mlplat <token>`` only by
handlers that declare ``kernel_api = True``; every other route ignores it.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_server.auth.identity import User

from jupyter_mlplat.config import API_TOKEN_FILE_VARIABLE, API_URL_VARIABLE
from jupyter_mlplat.infra.files import write_private

SCHEME = "mlplat"


@dataclass
class KernelApi:
    """The token of this server process and where kernels find it."""

    token: str
    token_file: Path
    serverapp: Any = None  # the ServerApp, for its URL (known once it listens)

    @classmethod
    def create(cls, runtime_dir: Path, serverapp: Any = None) -> KernelApi:
        runtime_dir.mkdir(parents=True, exist_ok=True)
        token = secrets.token_urlsafe(32)
        path = runtime_dir / f"mlplat-kernel-api-{os.getpid()}.token"
        write_private(path, token)
        return cls(token, path, serverapp)

    def url(self) -> str:
        """The server's own URL, base URL included, as a kernel on this machine reaches it."""
        app = self.serverapp
        if app is None:
            return ""
        scheme = "https" if getattr(app, "certfile", None) else "http"
        host = app.ip if app.ip not in ("", "0.0.0.0", "::", "*") else "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"{scheme}://{host}:{app.port}{app.base_url}"

    def kernel_environment(self) -> dict[str, str]:
        """What a kernel needs to call the server: a URL and the token file's path."""
        return {API_URL_VARIABLE: self.url(), API_TOKEN_FILE_VARIABLE: str(self.token_file)}

    def accepts(self, header: str | None) -> bool:
        """Whether an ``Authorization`` header carries this token."""
        scheme, _, value = (header or "").strip().partition(" ")
        return scheme.lower() == SCHEME and hmac.compare_digest(value.strip(), self.token)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.token_file.unlink()


#: The token of this process, set by the extension at start (the provisioner reads it).
current: KernelApi | None = None


def kernel_user(handler: Any) -> User | None:
    """The user of a request authenticated with the kernel token, on a ``kernel_api`` handler."""
    api = handler.settings.get("mlplat_kernel_api")
    if api is None or not getattr(handler, "kernel_api", False):
        return None
    if not api.accepts(handler.request.headers.get("Authorization")):
        return None
    config = handler.settings["mlplat_config"]
    return User(username=config.resolved_user, name=config.resolved_user)
