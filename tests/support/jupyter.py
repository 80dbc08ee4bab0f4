"""A small client for a running Jupyter server: sessions over REST, cells over the websocket."""

from __future__ import annotations

import itertools
import json
import struct
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import requests
import websocket


@dataclass
class CellResult:
    """What a cell sent back: status, stdout, rich outputs, error."""

    status: str = ""
    stdout: str = ""
    stderr: str = ""
    outputs: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, Any] | None = None

    def data(self, mime: str) -> list[Any]:
        return [o["data"][mime] for o in self.outputs if mime in o.get("data", {})]

    @property
    def value(self) -> str | None:
        """The ``text/plain`` of the cell's result (its last expression), if any."""
        for message in self.messages:
            if message["msg_type"] == "execute_result":
                return str(message["content"]["data"]["text/plain"])
        return None


class JupyterServer:
    """REST + kernel websocket access to a Jupyter server at ``url`` with ``token``."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"token {token}"

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.http.request(method, f"{self.url}/{path.lstrip('/')}", timeout=60, **kwargs)

    def start_session(self, path: str, kernel: str = "python3") -> str:
        response = self.api(
            "POST",
            "api/sessions",
            json={
                "path": path,
                "type": "notebook",
                "name": path.rsplit("/", 1)[-1],
                "kernel": {"name": kernel},
            },
        )
        response.raise_for_status()
        return str(response.json()["kernel"]["id"])

    def kernel(self, kernel_id: str) -> KernelConnection:
        return KernelConnection(self, kernel_id)


class KernelConnection:
    """Executes cells on one kernel through the server's websocket channels."""

    def __init__(self, server: JupyterServer, kernel_id: str) -> None:
        ws_url = server.url.replace("http", "ws", 1) + f"/api/kernels/{kernel_id}/channels"
        self.ws = websocket.create_connection(
            ws_url, header=[f"Authorization: token {server.token}"], timeout=300
        )
        self.session = uuid.uuid4().hex

    def close(self) -> None:
        self.ws.close()

    def __enter__(self) -> KernelConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, msg_type: str, content: dict[str, Any]) -> str:
        """Send a shell request; its message id."""
        msg_id = uuid.uuid4().hex
        self.ws.send(
            json.dumps(
                {
                    "header": {
                        "msg_id": msg_id,
                        "username": "test",
                        "session": self.session,
                        "msg_type": msg_type,
                        "version": "5.3",
                        "date": "",
                    },
                    "parent_header": {},
                    "metadata": {},
                    "content": content,
                    "channel": "shell",
                    "buffers": [],
                }
            )
        )
        return msg_id

    def complete(self, code: str, cursor_pos: int | None = None, timeout: float = 30) -> dict:
        """The kernel's ``complete_reply`` content for ``code`` at ``cursor_pos`` (the end)."""
        cursor = len(code) if cursor_pos is None else cursor_pos
        msg_id = self._send("complete_request", {"code": code, "cursor_pos": cursor})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv())
            if (
                msg.get("parent_header", {}).get("msg_id") == msg_id
                and msg["msg_type"] == "complete_reply"
            ):
                return dict(msg["content"])
        raise TimeoutError(f"no completion in {timeout} s: {code[:80]!r}")

    def execute(self, code: str, timeout: float = 120) -> CellResult:
        msg_id = self._send(
            "execute_request",
            {
                "code": code,
                "silent": False,
                "store_history": True,
                "user_expressions": {},
                "allow_stdin": False,
                "stop_on_error": True,
            },
        )
        result = CellResult()
        idle = reply = False
        deadline = time.monotonic() + timeout
        while not (idle and reply):
            if time.monotonic() > deadline:
                raise TimeoutError(f"cell did not finish in {timeout} s: {code[:80]!r}")
            msg = decode(self.ws.recv())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            result.messages.append(msg)
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                if content["name"] == "stdout":
                    result.stdout += content["text"]
                else:
                    result.stderr += content["text"]
            elif kind in {"display_data", "execute_result", "update_display_data"}:
                result.outputs.append(content)
            elif kind == "error":
                result.error = content
            elif kind == "status" and content["execution_state"] == "idle":
                idle = True
            elif kind == "execute_reply":
                result.status = content["status"]
                reply = True
        return result


def decode(frame: str | bytes) -> dict[str, Any]:
    """A kernel message from the websocket: JSON text, or the server's binary frame when the
    message carries buffers (widgets' images): a count, offsets, the JSON, then the buffers."""
    if isinstance(frame, str):
        return dict(json.loads(frame))
    (count,) = struct.unpack_from("!I", frame)
    offsets = [*struct.unpack_from(f"!{count}I", frame, 4), len(frame)]
    msg = dict(json.loads(frame[offsets[0] : offsets[1]]))
    msg["buffers"] = [frame[start:end] for start, end in itertools.pairwise(offsets[1:])]
    return msg
