"""Every route the extension adds refuses requests without Jupyter credentials."""

from __future__ import annotations

import re

import pytest
import requests

from jupyter_mlplat.server.routes import ROUTES

pytestmark = pytest.mark.integration

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def concrete(pattern: str) -> str:
    """A URL path matching a route pattern (groups filled with a sample value)."""
    path = re.sub(r"\(\?P<\w+>[^)]*\)|\([^)]*\)", "sample", pattern)
    return path.replace("/?", "/").replace("\\", "")


@pytest.mark.parametrize("pattern", [p for p, _ in ROUTES])
def test_route_refuses_anonymous_requests(lab, pattern):
    url = f"{lab.url}/{concrete(pattern)}"
    for method in METHODS:
        handler = dict(ROUTES)[pattern]
        if not hasattr(handler, method.lower()):
            continue
        response = requests.request(method, url, timeout=30, allow_redirects=False)
        assert response.status_code == 403, (method, url, response.status_code)


@pytest.mark.parametrize("pattern", [p for p, _ in ROUTES])
def test_route_accepts_the_token(lab, pattern):
    response = lab.api("GET", concrete(pattern), allow_redirects=False)
    assert response.status_code != 403


def test_status_endpoint_reports_a_reachable_tracking_server(lab, platform):
    status = lab.api("GET", "mlplat/api/status").json()
    assert status["tracking"]["uri"] == platform.tracking_uri
    assert status["tracking"]["reachable"] is True
    assert status["user"] == "ada"


def test_mlflow_ui_is_proxied_under_the_base_url(lab):
    page = lab.api("GET", "mlplat/mlflow/")
    assert page.status_code == 200 and "<title>MLflow</title>" in page.text
    assert lab.api("GET", "mlplat/mlflow", allow_redirects=False).status_code == 302
    search = lab.api(
        "POST", "mlplat/mlflow/ajax-api/2.0/mlflow/experiments/search", json={"max_results": 5}
    )
    assert search.status_code == 200 and "experiments" in search.json()


def test_proxy_refuses_cross_origin_writes_from_a_logged_in_browser(lab):
    browser = requests.Session()
    browser.get(f"{lab.url}/lab?token={lab.token}", timeout=30)  # sets the login cookie
    url = f"{lab.url}/mlplat/mlflow/ajax-api/2.0/mlflow/experiments/search"
    body = {"max_results": 5}
    evil = browser.post(url, json=body, headers={"Origin": "http://evil.example"}, timeout=30)
    assert evil.status_code == 403
    same = browser.post(url, json=body, headers={"Origin": lab.url}, timeout=30)
    assert same.status_code == 200, same.text
