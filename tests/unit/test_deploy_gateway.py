"""The gateway's HAProxy configuration, from its routes (no process started)."""

from __future__ import annotations

from pathlib import Path

from jupyter_mlplat.deploy.gateway import Gateway, Route


def test_each_deployment_is_a_backend_weighted_and_health_checked(tmp_path: Path):
    config = Gateway(tmp_path).render(
        8123,
        {
            "iris": [Route("v1-4001", 4001, 90), Route("v2-4002", 4002, 10)],
            "wine": [Route("v3-4003", 4003, 100)],
        },
    )
    assert "bind 127.0.0.1:8123" in config
    route = "use_backend d-iris if { path_beg /v2/models/iris/ } || { path /v2/models/iris }"
    assert route in config
    iris = config.split("backend d-iris\n", 1)[1].split("\n\n", 1)[0]
    assert "option httpchk GET /v2/models/iris/ready" in iris
    assert "server v1-4001 127.0.0.1:4001 weight 90 check" in iris
    assert "server v2-4002 127.0.0.1:4002 weight 10 check" in iris
    assert "wine" not in iris
    assert "default_backend no-deployment" in config  # an unknown name answers 404
    assert f"stats socket {tmp_path / 'gateway' / 'admin.sock'}" in config


def test_the_port_is_kept_once_chosen(tmp_path: Path):
    gateway = Gateway(tmp_path, port=0)
    assert gateway.port == 0 and gateway.routes() == {}
    gateway._save(8124, {"iris": [Route("v1-4001", 4001, 100)]})
    again = Gateway(tmp_path, port=9000)  # a setting changed later does not move the URLs
    assert again.port == 8124 and again.url == "http://127.0.0.1:8124"
    assert again.routes() == {"iris": [Route("v1-4001", 4001, 100)]}
    assert (tmp_path / "gateway" / "haproxy.cfg").read_text().count("server v1-4001") == 1
