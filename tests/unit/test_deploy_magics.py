"""The deploy magics' parsing and rendering, the kernel client's errors, the scoped token."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from IPython.core.error import UsageError

from jupyter_mlplat.errors import InvalidInput, Unavailable
from jupyter_mlplat.kernel.commands import deploy as deploy_command
from jupyter_mlplat.kernel.commands.deploy import DeploymentSummary, ProgressBar
from jupyter_mlplat.kernel.commands.deployments import DeploymentTable
from jupyter_mlplat.kernel.platform_api import PlatformApi
from jupyter_mlplat.server.kernel_api import KernelApi

REVISION = {"name": "iris", "version": "2", "traffic": 90, "uri": "models:/iris/2"}
DEPLOYMENT: dict[str, Any] = {
    "name": "iris",
    "owner": "ada",
    "target": "local",
    "state": "ready",
    "endpoint": "http://127.0.0.1:8123",
    "message": "",
    "stable": REVISION,
    "canary": {**REVISION, "version": "3", "traffic": 10},
    "previous": None,
    "details": {"progress": {"step": "ready", "fraction": 1.0}},
}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "the following arguments are required: model_uri"),
        (["models:/iris/1", "--canary", "ten"], "invalid int value"),
        (["models:/iris/1", "--target", "mars"], "invalid choice"),
    ],
)
def test_deploy_arguments_fail_in_one_line(args, message):
    with pytest.raises(UsageError, match=message) as caught:
        deploy_command.parser().parse_args(args)
    assert "\n" not in str(caught.value)


def test_a_kernel_outside_the_platform_gets_one_line(monkeypatch):
    monkeypatch.delenv("MLP_API_URL", raising=False)
    monkeypatch.delenv("MLP_KERNEL_TOKEN_FILE", raising=False)
    with pytest.raises(Unavailable, match="not started by the platform"):
        PlatformApi().deployments()


class FakeServer(BaseHTTPRequestHandler):
    """Answers like the deploy API: 400 with a message, or the list."""

    seen: ClassVar[list[str]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        FakeServer.seen.append(self.headers.get("Authorization", ""))
        self._answer(200, {"deployments": [DEPLOYMENT]})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        json.loads(self.rfile.read(length))
        self._answer(400, {"message": "canary must be a whole percentage between 1 and 99"})

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def test_client_sends_the_scoped_token_and_reports_the_servers_message(tmp_path: Path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        api = PlatformApi(f"http://127.0.0.1:{server.server_port}/base/", "s3cret")
        assert api.deployments()[0]["name"] == "iris"
        assert FakeServer.seen[-1] == "mlplat s3cret"
        with pytest.raises(InvalidInput, match=r"^canary must be a whole percentage"):
            api.deploy({"model_uri": "models:/iris/1", "canary": 0})
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(Unavailable, match="unreachable"):
        api.deployments()


def test_summary_and_table_render_html_and_text():
    summary = DeploymentSummary(DEPLOYMENT)
    html = summary._repr_html_()
    assert "http://127.0.0.1:8123/v2/models/iris/infer" in html
    assert "iris v3 (10%)" in repr(summary)
    table = DeploymentTable([DEPLOYMENT])
    assert "<table" in table._repr_html_() and "iris v2 (90%)" in repr(table)
    assert "No deployments" in repr(DeploymentTable([]))


def test_progress_bar_follows_the_record():
    bar = ProgressBar("iris")
    progress = {"step": "waiting", "fraction": 0.5}
    running = {**DEPLOYMENT, "state": "deploying", "details": {"progress": progress}}
    assert "width:50.0%" in bar.render(running).data and "waiting" in bar.render(running).data
    failed = {**DEPLOYMENT, "state": "failed", "message": "the model server exited"}
    assert "the model server exited" in bar.render(failed).data


def test_kernel_token_file_is_private_and_checked_in_constant_time(tmp_path: Path):
    api = KernelApi.create(tmp_path)
    assert api.token_file.stat().st_mode & 0o777 == 0o600
    assert api.token_file.read_text() == api.token
    assert api.accepts(f"mlplat {api.token}")
    assert not api.accepts(f"token {api.token}")
    assert not api.accepts("mlplat nope") and not api.accepts(None)
    assert api.kernel_environment()["MLP_KERNEL_TOKEN_FILE"] == str(api.token_file)
    api.close()
    assert not api.token_file.exists()
