"""Scripted use of a hub over HTTP, as a browser would: log in, wait until the user's JupyterLab
answers, stop a user's server (benchmarks, tests, smoke checks of a deployment)."""

from __future__ import annotations

import json
import time

import requests

from jupyter_mlplat.errors import Unavailable


class HubError(Unavailable):
    """The hub refused or did not answer in time."""


def login(base_url: str, user: str, password: str, timeout: float = 60) -> requests.Session:
    """A session logged in to the hub as ``user`` (the hub's cookie; the spawn has begun)."""
    session = requests.Session()
    session.get(f"{base_url}/hub/login", timeout=timeout).raise_for_status()
    answer = session.post(
        f"{base_url}/hub/login",
        data={"username": user, "password": password, "_xsrf": session.cookies.get("_xsrf")},
        timeout=timeout,
    )
    if answer.status_code >= 400 or answer.url.rstrip("/").endswith("/hub/login"):
        raise HubError(f"login as {user} refused (HTTP {answer.status_code})")
    return session


def wait_for_lab(session: requests.Session, base_url: str, user: str, timeout: float = 180) -> None:
    """Follow ``/user/<user>/lab`` (spawn page, OAuth round trip) until JupyterLab answers."""
    lab = f"{base_url}/user/{user}/lab"
    deadline = time.monotonic() + timeout
    wait_for_spawn(session, base_url, user, timeout)
    while time.monotonic() < deadline:
        answer = session.get(lab, timeout=30)
        if answer.status_code == 200 and answer.url.startswith(lab):
            api = session.get(f"{base_url}/user/{user}/api/status", timeout=30)
            if api.status_code == 200:
                return
        time.sleep(0.25)
    raise HubError(f"{user}'s JupyterLab not ready after {timeout:.0f} s")


def wait_for_spawn(
    session: requests.Session, base_url: str, user: str, timeout: float = 180
) -> None:
    """Wait on the hub's spawn progress stream, as the browser's spawn-pending page does, until
    it says ready (at once) — not polling the pending page, which costs the busy hub CPU.

    Returns without waiting when there is no stream to follow (no spawn pending, an old hub).
    """
    url = f"{base_url}/hub/api/users/{user}/server/progress"
    headers = {"Accept": "text/event-stream"}
    xsrf = next((c.value for c in session.cookies if c.name == "_xsrf" and c.value), None)
    if xsrf:
        headers["X-XSRFToken"] = xsrf
    try:
        with session.get(url, headers=headers, stream=True, timeout=(30, timeout)) as answer:
            if answer.status_code != 200:
                return
            for line in answer.iter_lines(decode_unicode=True):
                if not line or not line.startswith("data:"):
                    continue
                event = json.loads(line[len("data:") :])
                if event.get("failed"):
                    raise HubError(f"{user}'s server failed to start: {event.get('message', '')}")
                if event.get("ready"):
                    return
    except requests.RequestException:
        return  # the polling that follows decides


def stop_server(base_url: str, api_token: str, user: str, timeout: float = 60) -> None:
    """Stop ``user``'s server through the hub's REST API and wait until it is gone."""
    headers = {"Authorization": f"token {api_token}"}
    answer = requests.delete(f"{base_url}/hub/api/users/{user}/server", headers=headers, timeout=30)
    if answer.status_code not in (202, 204, 400):  # 400: not running
        raise HubError(f"stopping {user}'s server: HTTP {answer.status_code} {answer.text}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        model = requests.get(f"{base_url}/hub/api/users/{user}", headers=headers, timeout=30)
        if not model.json().get("servers"):
            return
        time.sleep(0.25)
    raise HubError(f"{user}'s server still running after {timeout:.0f} s")
