"""The local hub's fork server refuses what it cannot fork faithfully, before forking."""

from __future__ import annotations

import json
import os
import socket

import pytest

from jupyter_mlplat.hub import forkserver

GOOD = {"argv": ["jupyterhub-singleuser"], "env": {"PATH": "/bin"}, "cwd": "/tmp"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"argv": []}, "argv"),
        ({"argv": "jupyterhub-singleuser"}, "argv"),
        ({"env": {"HOME": 1}}, "env"),
        ({"cwd": "relative/home"}, "cwd"),
        ({"env": {"PYTHONPATH": "/elsewhere"}}, "PYTHONPATH"),
        ({"env": {"JUPYTERHUB_SINGLEUSER_EXTENSION": "0"}}, "JUPYTERHUB_SINGLEUSER_EXTENSION"),
    ],
)
def test_a_request_it_cannot_serve_faithfully_is_refused(monkeypatch, change, message):
    monkeypatch.delenv("JUPYTERHUB_SINGLEUSER_EXTENSION", raising=False)
    monkeypatch.setenv("PYTHONPATH", "/here")
    monkeypatch.setattr(os, "fork", lambda: pytest.fail("forked"))
    with pytest.raises(ValueError, match=message):
        forkserver.spawn(GOOD | change)


def test_a_refusal_is_an_answer_and_the_spawner_sees_an_oserror(monkeypatch, tmp_path):
    monkeypatch.setattr(os, "fork", lambda: pytest.fail("forked"))
    server, client = socket.socketpair()
    with server, client:
        client.sendall(json.dumps(GOOD | {"cwd": "home"}).encode() + b"\n")
        forkserver.answer(server)
        assert "cwd" in json.loads(client.recv(65536))["error"]
    with pytest.raises(OSError):  # nobody listening: the spawner starts a new process instead
        forkserver.request_spawn(str(tmp_path / "none.sock"), ["x"], {}, "/tmp")
