"""The local hub's spawner: a user's JupyterLab as a local process, reported up as soon as it is.

Imported by the hub process only (``c.JupyterHub.spawner_class``): it needs jupyterhub.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from jupyterhub.httpclient import fetch
from jupyterhub.spawner import SimpleLocalProcessSpawner
from traitlets import Float


class LocalLabSpawner(SimpleLocalProcessSpawner):
    """``SimpleLocalProcessSpawner`` whose ``start`` returns once the server answers.

    JupyterHub waits for a new server with an exponential backoff (0.2, 0.4, 0.8, 1.6, 3.2,
    5 s ...): a lab that is up after 4 s is seen at 6.2 s. Polling the same URL at a short fixed
    interval here, the hub's own check then passes at its first try.
    """

    ready_poll_interval = Float(
        0.05, config=True, help="Seconds between readiness checks while the server starts."
    )

    async def start(self) -> tuple[str, int]:
        ip, port = await super().start()
        url = f"http://{ip}:{port}{self.server.base_url}api"  # what the hub checks next
        deadline = time.monotonic() + self.http_timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            if await self._answers(url):
                break
            await asyncio.sleep(self.ready_poll_interval)
        # a server that died or never answered: the hub's own wait reports it as usual
        return ip, port

    async def _answers(self, url: str) -> bool:
        try:
            response: Any = await fetch(url, raise_for_status=False, allow_redirects=False)
        except Exception:  # refused, reset, not HTTP yet: "not yet", as the hub treats them
            return False
        return bool(response.status < 500)
