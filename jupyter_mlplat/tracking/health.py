"""Cheap reachability check of an MLflow server (no mlflow import)."""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass


@dataclass(frozen=True)
class Health:
    """Whether a server answered its health endpoint, and why not."""

    ok: bool
    detail: str = ""


def probe(tracking_uri: str, timeout: float = 1.0) -> Health:
    """GET ``<tracking_uri>/health``."""
    if not tracking_uri.startswith(("http://", "https://")):
        return Health(True, "local store")
    try:
        url = tracking_uri.rstrip("/") + "/health"  # http(s) only, checked above
        with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310
            return Health(r.status == 200, f"HTTP {r.status}")
    except (urllib.error.URLError, OSError) as err:
        return Health(False, str(getattr(err, "reason", err)))
