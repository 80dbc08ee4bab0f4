"""The written-down HTTP API (server/openapi.yaml) parses and covers every route the server has."""

import re
from pathlib import Path

import yaml

from jupyter_mlplat.server.routes import ROUTES

SPEC = Path(__file__).parents[2] / "jupyter_mlplat" / "server" / "openapi.yaml"


def shape(path: str) -> str:
    """A route pattern or an OpenAPI path with every parameter written as {}."""
    path = re.sub(r"\?\(\.\*\)$", "{}", path.lstrip("/"))
    return re.sub(r"\([^)]*\)|\{[^}]*\}", "{}", path)


def test_openapi_documents_every_route():
    spec = yaml.safe_load(SPEC.read_text())
    documented = {shape(p) for p in spec["paths"]}
    served = {shape(pattern) for pattern, _ in ROUTES}
    assert served - documented == set(), "routes missing from openapi.yaml"
    assert documented - served == set(), "openapi.yaml documents routes the server lacks"
