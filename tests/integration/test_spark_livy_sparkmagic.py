"""Livy mode end to end: our config.json -> a platform kernel's ``%%spark`` (no ``%spark add``)
-> sparkmagic -> a small stand-in Livy server on loopback (no Livy is installable here): it
answers Livy's REST calls for one session and its statements, and records what it was sent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.spark.livy import write_sparkmagic_config

pytestmark = pytest.mark.integration

SESSION = {"id": 0, "state": "idle", "kind": "pyspark", "appId": "app-1", "log": []}
SESSION |= {"appInfo": {"driverLogUrl": None, "sparkUiUrl": None}}


class FakeLivy(BaseHTTPRequestHandler):
    """Just enough of Livy's REST API for one session and its statements."""

    requests: list[tuple[str, str, Any]]  # set per server

    def do_GET(self) -> None:
        self.record(None)
        if self.path == "/sessions":
            self.answer(200, {"from": 0, "total": 1, "sessions": [SESSION]})
        elif self.path == "/sessions/0":
            self.answer(200, SESSION)
        elif self.path.startswith("/sessions/0/statements/"):
            self.answer(200, self.statement(int(self.path.rsplit("/", 1)[1])))
        else:
            self.answer(200, {"id": 0, "from": 0, "total": 0, "log": []})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
        self.record(body)
        if self.path == "/sessions":
            self.answer(201, SESSION)
        else:  # /sessions/0/statements
            count = sum(1 for _, path, _ in self.requests if path.endswith("/statements"))
            self.answer(201, self.statement(count - 1))

    def do_DELETE(self) -> None:
        self.record(None)
        self.answer(200, {"msg": "deleted"})

    def statement(self, number: int) -> dict[str, Any]:
        output = {"status": "ok", "execution_count": number, "data": {"text/plain": "2"}}
        return {"id": number, "state": "available", "output": output}

    def record(self, body: Any) -> None:
        self.requests.append((self.command, self.path, body))

    def answer(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def livy() -> Iterator[tuple[str, list[tuple[str, str, Any]]]]:
    requests: list[tuple[str, str, Any]] = []
    handler = type("Handler", (FakeLivy,), {"requests": requests})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", requests
    server.shutdown()
    server.server_close()


#: A platform kernel in Livy mode: the extension is loaded, the first cell is a ``%%spark`` cell.
NOTEBOOK = r"""
import sys
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
shell.extension_manager.load_extension("jupyter_mlplat")
assert "sparkmagic" not in sys.modules  # kernel start does not pay for it
assert shell.run_cell("%%spark\n1 + 1").success
shell.run_line_magic("spark", "info")
assert shell.run_cell("%%spark\n2 + 2").success
"""


def test_spark_cell_runs_on_livy_with_the_platform_settings(livy, tmp_path):
    url, requests = livy
    config = MLPlat(
        env={
            "MLP_SPARK_MODE": "livy",
            "MLP_SPARK_REMOTE": url,
            "MLP_SPARK_EXECUTOR_MEMORY": "3g",
            "MLP_SPARK_CONF": "spark.sql.shuffle.partitions=16",
        }
    )
    written = write_sparkmagic_config(config, tmp_path / "sparkmagic")
    # At exit sparkmagic deletes the session, then joins its heartbeat thread, which sleeps
    # heartbeat_refresh_seconds (30): beat faster so that the test does not wait for it.
    written.write_text(
        json.dumps(json.loads(written.read_text()) | {"heartbeat_refresh_seconds": 1})
    )
    env = {
        **os.environ,
        **config.to_environment(for_kernel=True),
        "SPARKMAGIC_CONF_DIR": str(written.parent),  # as the provisioner sets it
        "HOME": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-c", NOTEBOOK],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]

    posted = [body for method, path, body in requests if (method, path) == ("POST", "/sessions")]
    assert len(posted) == 1  # one session, opened by the first cell, used by the second
    created = posted[0]
    assert created["kind"] == "pyspark"
    assert created["executorMemory"] == "3g"
    assert created["heartbeatTimeoutInSecond"] == 60
    assert created["conf"]["spark.dynamicAllocation.enabled"] == "true"
    assert created["conf"]["spark.sql.shuffle.partitions"] == "16"
    statements = [b["code"].strip() for _, path, b in requests if path.endswith("/statements")]
    assert statements[-2:] == ["1 + 1", "2 + 2"]
    assert "SparkSession available as 'spark'" in done.stdout
    assert "mlplat" in done.stdout  # %spark info lists the platform's session
    assert ("DELETE", "/sessions/0", None) in requests  # cleanup_all_sessions_on_exit
