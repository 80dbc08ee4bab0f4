"""Every route the extension serves, relative to the server's base URL.

A test requests each one without credentials and expects 403.
"""

from __future__ import annotations

from jupyter_mlplat.server import (
    catalog_handlers,
    deploy_handlers,
    handlers,
    lineage_handlers,
    pipelines_handlers,
    registry_handlers,
    reports_handlers,
    search_handlers,
)
from jupyter_mlplat.server.handlers import MLPlatHandler

ROUTES: list[tuple[str, type[MLPlatHandler]]] = [
    *handlers.ROUTES,
    *catalog_handlers.ROUTES,
    *registry_handlers.ROUTES,
    *deploy_handlers.ROUTES,
    *pipelines_handlers.ROUTES,
    *lineage_handlers.ROUTES,
    *reports_handlers.ROUTES,
    *search_handlers.ROUTES,
]
