"""Every route the extension adds: refused without valid credentials (none, a wrong Jupyter or
kernel token, another scheme), opened by the kernel token only where kernels need it, and a
cross-site write from a logged-in browser without the XSRF token refused."""

from __future__ import annotations

import re

import pytest
import requests
from tornado.web import RequestHandler

from jupyter_mlplat.server.handlers import ProxyHandler
from jupyter_mlplat.server.routes import ROUTES

pytestmark = pytest.mark.integration

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
WRITES = ("POST", "PUT", "PATCH", "DELETE")
#: Requests that must all be refused (403) by every route, for every method it serves.
PROBES = {
    "no credentials": {},
    "a wrong Jupyter token": {"Authorization": "token not-the-token"},
    "a wrong kernel token": {"Authorization": "mlplat not-the-token"},
    "a token in another scheme": {"Authorization": "Bearer not-the-token"},
}


def concrete(pattern: str) -> str:
    """A URL path matching a route pattern (groups filled with a sample value)."""
    path = re.sub(r"\(\?P<\w+>[^)]*\)|\([^)]*\)", "sample", pattern)
    return path.replace("/?", "/").replace("\\", "")


def methods(handler: type) -> list[str]:
    """The methods the handler serves (tornado's base class answers the others with 405)."""
    return [
        m for m in METHODS if getattr(handler, m.lower()) is not getattr(RequestHandler, m.lower())
    ]


@pytest.fixture(scope="module")
def kernel_token(platform) -> str:
    """The scoped token the lab server gives its kernels (a file in its runtime directory)."""
    runtime = platform.state_dir.parent / "jupyter-runtime"
    (path,) = runtime.glob("mlplat-kernel-api-*.token")
    return path.read_text().strip()


@pytest.mark.parametrize("pattern", [p for p, _ in ROUTES])
def test_route_refuses_requests_without_valid_credentials(lab, pattern):
    url = f"{lab.url}/{concrete(pattern)}"
    handler = dict(ROUTES)[pattern]
    for method in methods(handler):
        for probe, headers in PROBES.items():
            response = requests.request(
                method, url, headers=headers, timeout=30, allow_redirects=False
            )
            assert response.status_code == 403, (method, url, probe, response.status_code)


@pytest.mark.parametrize("pattern", [p for p, _ in ROUTES])
def test_route_accepts_the_token(lab, pattern):
    response = lab.api("GET", concrete(pattern), allow_redirects=False)
    assert response.status_code != 403


@pytest.mark.parametrize("pattern", [p for p, _ in ROUTES])
def test_kernel_token_opens_only_the_routes_meant_for_kernels(lab, kernel_token, pattern):
    url = f"{lab.url}/{concrete(pattern)}"
    handler = dict(ROUTES)[pattern]
    headers = {"Authorization": f"mlplat {kernel_token}"}
    for method in methods(handler):
        if handler.kernel_api and method != "GET":
            continue  # a kernel may write there; GET below shows the token is accepted
        response = requests.request(method, url, headers=headers, timeout=30, allow_redirects=False)
        if handler.kernel_api:
            assert response.status_code != 403, (method, url, response.text)
        else:
            assert response.status_code == 403, (method, url, response.status_code)


def test_kernel_token_opens_none_of_jupyters_own_routes(lab, kernel_token):
    headers = {"Authorization": f"mlplat {kernel_token}"}
    for path in ("api/contents", "api/kernels", "api/sessions", "api/terminals", "lab"):
        response = requests.get(
            f"{lab.url}/{path}", headers=headers, timeout=30, allow_redirects=False
        )
        assert response.status_code in (302, 403), (path, response.status_code)
        assert "login" in response.headers.get("Location", "login"), path


@pytest.mark.parametrize("pattern", [p for p, h in ROUTES if set(methods(h)) & set(WRITES)])
def test_cross_site_writes_without_xsrf_are_refused(lab, pattern):
    """A logged-in browser (cookie) tricked into a write, with no XSRF token: refused when the
    page is another site's (Jupyter's origin check answers 404). The API also refuses a
    same-origin write without the token; the proxied UIs, which cannot send Jupyter's token,
    require the request's Origin or Referer to be the lab's own instead."""
    handler = dict(ROUTES)[pattern]
    browser = requests.Session()
    browser.get(f"{lab.url}/lab?token={lab.token}", timeout=30)  # sets the login cookie
    url = f"{lab.url}/{concrete(pattern)}"
    probes = [({"Origin": "http://evil.example"}, (403, 404))]
    if issubclass(handler, ProxyHandler):
        probes.append(({}, (403,)))  # neither Origin nor Referer
    else:
        probes.append(({"Origin": lab.url}, (403,)))
    for method in set(methods(handler)) & set(WRITES):
        for headers, refused in probes:
            response = browser.request(method, url, json={}, headers=headers, timeout=30)
            assert response.status_code in refused, (method, url, headers, response.status_code)


def test_the_airflow_proxy_says_when_airflow_is_not_running(lab):
    for method in ("GET", "POST"):
        response = lab.api(method, "mlplat/airflow/api/v2/dags", json={})
        assert response.status_code == 502, (method, response.status_code, response.text)
        assert "Airflow" in response.json()["message"]


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
