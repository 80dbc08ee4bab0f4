"""Livy mode: the sparkmagic configuration built from MLPlat, as sparkmagic itself reads it."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.errors import InvalidInput, Unavailable
from jupyter_mlplat.spark.backends import backend_for
from jupyter_mlplat.spark.livy import LivyBackend, sparkmagic_config, write_sparkmagic_config

LIVY = "http://livy.example.org:8998"


def livy_config(**env: str) -> MLPlat:
    return MLPlat(env={"MLP_SPARK_MODE": "livy", "MLP_SPARK_REMOTE": LIVY, **env})


def test_no_auth():
    config = sparkmagic_config(livy_config(MLP_SPARK_CONF="spark.sql.shuffle.partitions=64"))
    assert config["kernel_python_credentials"] == {
        "url": LIVY,
        "auth": "None",
        "username": "",
        "base64_password": "",
    }
    assert config["kernel_scala_credentials"] == config["kernel_python_credentials"]
    assert config["session_configs"] == {
        "driverMemory": "2g",
        "driverCores": 1,
        "executorMemory": "2g",
        "executorCores": 1,
        "conf": {
            "spark.dynamicAllocation.enabled": "true",
            "spark.dynamicAllocation.minExecutors": "0",
            "spark.dynamicAllocation.maxExecutors": "4",
            "spark.dynamicAllocation.shuffleTracking.enabled": "true",
            "spark.sql.shuffle.partitions": "64",
        },
    }
    assert config["ignore_ssl_errors"] is False
    assert config["livy_session_startup_timeout_seconds"] == 300
    assert config["livy_server_heartbeat_timeout_seconds"] == 60


def test_basic_access_reads_the_password_file(tmp_path):
    secret = tmp_path / "livy-password"
    secret.write_text("s3cr:t é\n")
    config = livy_config(
        MLP_LIVY_AUTH="Basic_Access",
        MLP_LIVY_USERNAME="ada",
        MLP_LIVY_PASSWORD_FILE=str(secret),
    )
    credentials = sparkmagic_config(config)["kernel_python_credentials"]
    assert credentials["auth"] == "Basic_Access"
    assert credentials["username"] == "ada"
    assert credentials["base64_password"] == "czNjcjp0IMOp"  # base64 of "s3cr:t é"


def test_basic_access_without_credentials_is_refused(tmp_path):
    with pytest.raises(InvalidInput, match="MLP_LIVY_USERNAME and MLP_LIVY_PASSWORD_FILE"):
        sparkmagic_config(livy_config(MLP_LIVY_AUTH="Basic_Access", MLP_LIVY_USERNAME="ada"))
    missing = livy_config(
        MLP_LIVY_AUTH="Basic_Access",
        MLP_LIVY_USERNAME="ada",
        MLP_LIVY_PASSWORD_FILE=str(tmp_path / "nope"),
    )
    with pytest.raises(InvalidInput, match="cannot read the Livy password file"):
        sparkmagic_config(missing)


def test_kerberos_needs_no_password():
    credentials = sparkmagic_config(livy_config(MLP_LIVY_AUTH="Kerberos"))[
        "kernel_python_credentials"
    ]
    assert credentials == {"url": LIVY, "auth": "Kerberos", "username": "", "base64_password": ""}


def test_livy_url_is_required_and_http():
    with pytest.raises(Unavailable, match="MLP_SPARK_REMOTE"):
        sparkmagic_config(MLPlat(env={"MLP_SPARK_MODE": "livy"}))
    with pytest.raises(InvalidInput, match="http"):
        sparkmagic_config(livy_config(MLP_SPARK_REMOTE="sc://livy:15002"))


def test_config_file_is_private(tmp_path):
    target = tmp_path / "sparkmagic" / "config.json"
    target.parent.mkdir()
    target.write_text("{}")
    target.chmod(0o644)
    assert write_sparkmagic_config(livy_config(), target.parent) == target
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert json.loads(target.read_text())["kernel_python_credentials"]["url"] == LIVY
    fresh = write_sparkmagic_config(livy_config(), tmp_path / "new")
    assert stat.S_IMODE(fresh.parent.stat().st_mode) == 0o700
    assert [p.name for p in fresh.parent.iterdir()] == ["config.json"]


#: Run by sparkmagic's own configuration module, once per configuration directory given
#: (a reload re-reads SPARKMAGIC_CONF_DIR: sparkmagic takes seconds to import).
READ_BACK = """
import importlib, json, os, sys
import sparkmagic.utils.constants as constants
import sparkmagic.utils.configuration as conf
seen = {}
for directory in sys.argv[1:]:
    os.environ["SPARKMAGIC_CONF_DIR"] = directory
    importlib.reload(constants)
    importlib.reload(conf)
    seen[directory] = {
        "python": conf.base64_kernel_python_credentials(),
        "scala": conf.base64_kernel_scala_credentials(),
        "startup_timeout": conf.livy_session_startup_timeout_seconds(),
        "heartbeat_timeout": conf.livy_server_heartbeat_timeout_seconds(),
        "ignore_ssl_errors": conf.ignore_ssl_errors(),
        "session": conf.get_session_properties("python"),
    }
print(json.dumps(seen))
"""


def test_sparkmagic_reads_the_configuration(tmp_path):
    secret = tmp_path / "livy-password"
    secret.write_text("hunter2\n")
    directories = {
        auth: str(
            write_sparkmagic_config(
                livy_config(
                    MLP_LIVY_AUTH=auth,
                    MLP_LIVY_USERNAME="ada",
                    MLP_LIVY_PASSWORD_FILE=str(secret),
                ),
                tmp_path / auth,
            ).parent
        )
        for auth in ("None", "Basic_Access", "Kerberos")
    }
    out = subprocess.run(
        [sys.executable, "-c", READ_BACK, *directories.values()],
        env={**os.environ, "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    seen = json.loads(out)

    for auth, directory in directories.items():
        login = ("ada", "hunter2") if auth == "Basic_Access" else ("", "")
        read = seen[directory]
        assert read["python"] == {
            "url": LIVY,
            "auth": auth,
            "username": login[0],
            "password": login[1],
        }
        assert read["scala"] == read["python"]
        assert read["startup_timeout"] == 300
        assert read["heartbeat_timeout"] == 60
        assert read["ignore_ssl_errors"] is False
        assert read["session"]["kind"] == "pyspark"
        assert read["session"]["executorMemory"] == "2g"
        assert read["session"]["conf"]["spark.dynamicAllocation.maxExecutors"] == "4"


class FakeLivySessions(BaseHTTPRequestHandler):
    """Answers ``GET /sessions`` like Livy."""

    def do_GET(self) -> None:
        body = json.dumps({"from": 0, "total": 2, "sessions": []}).encode()
        self.send_response(200 if self.path == "/sessions" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fake_livy() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeLivySessions)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_backend_state_probes_livy(fake_livy):
    backend = backend_for(livy_config(MLP_SPARK_REMOTE=f"{fake_livy}/"))
    assert isinstance(backend, LivyBackend)
    assert backend.state() == {"state": "reachable", "endpoint": fake_livy, "sessions": 2}

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{unused.getsockname()[1]}"
    assert backend_for(livy_config(MLP_SPARK_REMOTE=closed)).state()["state"] == "unreachable"
    assert LivyBackend(MLPlat(env={})).state()["state"] == "not-configured"


def test_backend_has_no_spark_connect_endpoint():
    backend = LivyBackend(livy_config())
    with pytest.raises(Unavailable, match=r"%%spark"):
        backend.endpoint()
    backend.shutdown()


def test_livy_mode_gives_kernels_a_sparkmagic_config(tmp_path, monkeypatch):
    import json

    from jupyter_mlplat.spark.backends import backend_for

    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path))
    config = MLPlat(env={"MLP_SPARK_MODE": "livy", "MLP_SPARK_REMOTE": "http://livy.example:8998"})
    env = backend_for(config).kernel_environment()
    written = json.loads((tmp_path / "mlplat-sparkmagic" / "config.json").read_text())
    assert env == {"SPARKMAGIC_CONF_DIR": str(tmp_path / "mlplat-sparkmagic")}
    assert written["kernel_python_credentials"]["url"] == "http://livy.example:8998"


@pytest.fixture
def livy_shell(ipython_shell):
    from jupyter_mlplat.kernel.livy import LivySpark

    shell = ipython_shell
    LivySpark(shell).register()
    yield shell
    for kind in ("line", "cell"):
        shell.magics_manager.magics[kind].pop("spark", None)


def test_spark_cell_without_the_livy_extra_names_it(livy_shell, monkeypatch):
    from IPython.core.error import UsageError

    monkeypatch.setitem(sys.modules, "sparkmagic.magics.remotesparkmagics", None)  # not installed
    with pytest.raises(UsageError, match=r"^Livy mode needs the livy extra: pip install "):
        livy_shell.run_cell_magic("spark", "", "1 + 1")


def test_livy_mode_registers_spark_at_kernel_start_without_importing_sparkmagic(
    ipython_shell, monkeypatch
):
    from jupyter_mlplat.kernel import load_ipython_extension

    shell = ipython_shell
    monkeypatch.setenv("MLP_SPARK_MODE", "livy")
    monkeypatch.setenv("MLP_SPARK_REMOTE", LIVY)
    loaded = {name for name in sys.modules if name.startswith("sparkmagic")}
    try:
        load_ipython_extension(shell)
        assert "spark" in shell.magics_manager.magics["cell"]
        assert {name for name in sys.modules if name.startswith("sparkmagic")} == loaded
    finally:
        for kind in ("line", "cell"):
            shell.magics_manager.magics[kind].pop("spark", None)
