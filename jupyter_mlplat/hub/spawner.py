"""The local hub's spawner: a user's JupyterLab as a local process, reported up as soon as it is.

Imported by the hub process only (``c.JupyterHub.spawner_class``): it needs jupyterhub.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from jupyterhub.httpclient import fetch
from jupyterhub.spawner import SimpleLocalProcessSpawner
from jupyterhub.utils import random_port
from traitlets import Float, Unicode

from jupyter_mlplat.hub.forkserver import request_spawn


class LocalLabSpawner(SimpleLocalProcessSpawner):
    """``SimpleLocalProcessSpawner`` whose ``start`` returns once the server answers, and
    forks the server from the local hub's fork server when there is one.

    JupyterHub waits for a new server with an exponential backoff (0.2, 0.4, 0.8, 1.6, 3.2,
    5 s ...): a lab that is up after 4 s is seen at 6.2 s. Polling the same URL at a short fixed
    interval here, the hub's own check then passes at its first try.
    """

    ready_poll_interval = Float(
        0.05, config=True, help="Seconds between readiness checks while the server starts."
    )
    fork_server = Unicode(
        "",
        config=True,
        help="Unix socket of a fork server (jupyter_mlplat.hub.forkserver) that has imported "
        "the server's libraries; empty, or not answering: a new process per server.",
    )

    async def start(self) -> tuple[str, int]:
        started = await self._start_forked() if self.fork_server else None
        ip, port = started or await super().start()
        url = f"http://{ip}:{port}{self.server.base_url}api"  # what the hub checks next
        deadline = time.monotonic() + self.http_timeout
        while time.monotonic() < deadline and await self.poll() is None:
            if await self._answers(url):
                break
            await asyncio.sleep(self.ready_poll_interval)
        # a server that died or never answered: the hub's own wait reports it as usual
        return ip, port

    async def _start_forked(self) -> tuple[str, int] | None:
        """The server forked by the fork server (the same command, environment and folder as
        ``LocalProcessSpawner.start``); None when the fork server cannot."""
        if self.port == 0:  # type: ignore[has-type]
            self.port = random_port()
        argv = [*self.cmd, *self.get_args()]
        try:
            pid = await asyncio.to_thread(
                request_spawn, self.fork_server, argv, self.get_env(), self.home_dir
            )
        except (OSError, ValueError) as err:
            self.log.warning("fork server: %s; starting %s's server anew", err, self.user.name)
            return None
        self.log.info("Forked %s's server: pid %d", self.user.name, pid)
        self.proc, self.pid = None, pid  # polled and stopped by pid, as after a hub restart
        return self.ip or "127.0.0.1", self.port

    async def _answers(self, url: str) -> bool:
        try:
            response: Any = await fetch(url, raise_for_status=False, allow_redirects=False)
        except Exception:  # refused, reset, not HTTP yet: "not yet", as the hub treats them
            return False
        return bool(response.status < 500)
