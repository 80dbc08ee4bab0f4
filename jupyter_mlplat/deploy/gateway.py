"""The local inference gateway: one HAProxy in front of every local model server.

One stable URL per deployment, ``http://127.0.0.1:<port>/v2/models/<name>/...``, whatever
servers answer behind it. Each deployment is an HAProxy backend whose servers are its model
servers (one per version) with the stable/canary split as weights; an HTTP check on
``/v2/models/<name>/ready`` takes a dead server out.

Changes to a running deployment go through HAProxy's runtime API (admin socket): ``add
server`` for a new version, ``set weight`` to switch traffic, ``drain``/``maint``/``del
server`` for the old one: no reload, no dropped connection. Adding or removing a deployment
(a backend) reloads the master-worker process (``reload`` on its master socket): the old
worker finishes what it serves. ``gateway.json`` holds the port and the routes, and
``haproxy.cfg`` is rewritten from it after every change, so a restart (or a reload) serves
exactly what the runtime served; after a platform restart both are regenerated from the
deployment records.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from jupyter_mlplat.errors import Unavailable
from jupyter_mlplat.infra.processes import free_port, http_ok

HAPROXY = "/usr/sbin/haproxy"
#: Where the Jupyter server proxies the gateway, under its base URL.
SERVING_PATH = "mlplat/serving/"
#: How long an old server may take to finish the requests it has before it is removed.
DRAIN_TIMEOUT = 30.0
#: Health checks: every second, faster while a server changes state; one failure in two
#: takes it out, one success brings it back.
CHECK = "check inter 1s fastinter 250ms downinter 1s fall 2 rise 1"


@dataclass(frozen=True)
class Route:
    """One model server behind a deployment's URL."""

    server: str  # HAProxy server name, unique in its backend (``v<version>-<port>``)
    port: int
    weight: int  # 0..256; the split is the share of the deployment's total weight


Routes = dict[str, list[Route]]  # deployment name -> its servers


class Gateway:
    """The HAProxy master-worker process under ``<state>/gateway`` and its routes."""

    def __init__(self, state_dir: Path, port: int = 0, haproxy: str = HAPROXY) -> None:
        self.root = state_dir / "gateway"
        self.preferred_port = port
        self.haproxy = haproxy

    # -- files --------------------------------------------------------------------------------
    @property
    def state_file(self) -> Path:
        return self.root / "gateway.json"

    @property
    def config_file(self) -> Path:
        return self.root / "haproxy.cfg"

    @property
    def admin_socket(self) -> Path:
        return self.root / "admin.sock"

    @property
    def master_socket(self) -> Path:
        return self.root / "master.sock"

    @property
    def pid_file(self) -> Path:
        return self.root / "haproxy.pid"

    def _load(self) -> tuple[int, Routes]:
        try:
            data = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return 0, {}
        routes = {
            name: [Route(**server) for server in servers]
            for name, servers in dict(data.get("routes") or {}).items()
        }
        return int(data.get("port") or 0), routes

    def _save(self, port: int, routes: Routes) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        data = {
            "port": port,
            "routes": {name: [asdict(r) for r in servers] for name, servers in routes.items()},
        }
        staging = self.state_file.with_suffix(".tmp")
        staging.write_text(json.dumps(data, indent=2))
        os.replace(staging, self.state_file)
        staging = self.config_file.with_suffix(".tmp")
        staging.write_text(self.render(port, routes))
        os.replace(staging, self.config_file)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One change at a time, across threads and processes (rollouts of two names)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    @property
    def port(self) -> int:
        """The gateway's port: kept once chosen (the URLs of deployments must not move)."""
        recorded, _ = self._load()
        return recorded or self.preferred_port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def routes(self) -> Routes:
        return self._load()[1]

    # -- the configuration --------------------------------------------------------------------
    def render(self, port: int, routes: Routes) -> str:
        """``haproxy.cfg`` for ``routes`` on ``port``."""
        lines = [
            "global",
            f"    stats socket {self.admin_socket} mode 600 level admin expose-fd listeners",
            f"    pidfile {self.pid_file}",
            "    hard-stop-after 120s",
            "    nbthread 1",
            "",
            "defaults",
            "    mode http",
            "    timeout connect 2s",
            "    timeout client 300s",
            "    timeout server 300s",
            "    timeout http-keep-alive 60s",
            # a reload closes an idle keep-alive connection only after its next response
            "    option idle-close-on-response",
            # a server gone between two checks: the request goes to another one. Only a
            # refused connection or a close is replayed: a request a dying server had taken
            # (its socket reset) is answered 502, HAProxy 2.6 replays nothing after a reset
            "    retries 2",
            "    option redispatch 1",
            "    retry-on conn-failure empty-response",
            "",
            "frontend gateway",
            f"    bind 127.0.0.1:{port}",
        ]
        for name in sorted(routes):
            lines.append(
                f"    use_backend d-{name} if {{ path_beg /v2/models/{name}/ }} "
                f"|| {{ path /v2/models/{name} }}"
            )
        lines += ["    default_backend no-deployment", ""]
        for name in sorted(routes):
            lines += [
                f"backend d-{name}",
                "    balance roundrobin",
                f"    option httpchk GET /v2/models/{name}/ready",
                "    http-check expect status 200",
            ]
            lines += [
                f"    server {r.server} 127.0.0.1:{r.port} weight {r.weight} {CHECK}"
                for r in routes[name]
            ]
            lines.append("")
        lines += [
            "backend no-deployment",
            "    http-request return status 404 content-type application/json "
            'string "{\\"error\\": \\"no such deployment\\"}"',
            "",
        ]
        return "\n".join(lines)

    # -- the process --------------------------------------------------------------------------
    def master_pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return pid

    def running(self) -> bool:
        return self.master_pid() is not None and self._answers()

    def _answers(self) -> bool:
        try:
            self.command("show info")
        except OSError:
            return False
        return True

    def ensure(self) -> str:
        """Start the gateway when it is not running (from its last routes); its URL."""
        with self._locked():
            port, routes = self._load()
            if not self.running():
                self._start(port, routes)
        return self.url

    def _start(self, port: int, routes: Routes) -> None:
        if not Path(self.haproxy).exists():
            raise Unavailable(
                f"the local inference gateway needs HAProxy ({self.haproxy}): "
                "run scripts/setup.sh or apt-get install haproxy"
            )
        port = free_port(port or self.preferred_port)  # the recorded port when still free
        self._save(port, routes)
        self.pid_file.unlink(missing_ok=True)
        for stale in (self.admin_socket, self.master_socket):
            stale.unlink(missing_ok=True)
        command = [self.haproxy, "-W", "-D", "-S", f"{self.master_socket},mode,600",
                   "-f", str(self.config_file), "-p", str(self.pid_file)]  # fmt: skip
        with (self.root / "haproxy.log").open("ab") as log:
            done = subprocess.run(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, env={"PATH": "/usr/sbin:/usr/bin:/bin"}, timeout=30,
                check=False,
            )  # fmt: skip
        if done.returncode != 0:
            raise Unavailable("the gateway (HAProxy) did not start: " + self._log_tail())
        self._wait(self._answers, "start")

    def _reload(self, port: int, routes: Routes) -> None:
        """Load a changed set of backends: a new worker takes the listening socket over."""
        self._save(port, routes)
        if not self.running():
            self._start(port, routes)
            return
        check = subprocess.run(
            [self.haproxy, "-c", "-q", "-f", str(self.config_file)],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        if check.returncode != 0:
            raise Unavailable(f"the gateway's configuration is invalid: {check.stderr.strip()}")
        before = self._worker_pid()
        self._master("reload")
        self._wait(lambda: self._worker_pid() not in (None, before), "reload")

    def stop(self) -> bool:
        """Stop the gateway (its routes stay, for the next start). True when it was running."""
        pid = self.master_pid()
        if pid is None:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.master_pid() is not None:
            time.sleep(0.05)
        return True

    def _worker_pid(self) -> int | None:
        try:
            info = self.command("show info")
        except OSError:
            return None
        for line in info.splitlines():
            if line.startswith("Pid:"):
                return int(line.split(":", 1)[1])
        return None

    def _wait(self, condition: Callable[[], bool], what: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.05)
        raise Unavailable(f"the gateway did not {what} in {timeout:.0f} s: " + self._log_tail())

    def _log_tail(self) -> str:
        try:
            lines = (self.root / "haproxy.log").read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return " | ".join(line.strip() for line in lines[-3:]) or "(empty log)"

    # -- the runtime API ----------------------------------------------------------------------
    def command(self, line: str, sock: Path | None = None) -> str:
        """One command on the admin socket (or ``sock``); its answer."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(10)
            conn.connect(str(sock or self.admin_socket))
            conn.sendall(line.encode() + b"\n")
            conn.shutdown(socket.SHUT_WR)
            chunks = []
            while chunk := conn.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode(errors="replace")

    def _master(self, line: str) -> str:
        return self.command(line, self.master_socket)

    def _runtime(self, line: str) -> None:
        answer = self.command(line).strip()
        if answer and not answer.startswith(("New server registered", "Server deleted")):
            raise Unavailable(f"the gateway refused {line.split(' ', 3)[:3]}: {answer}")

    def stats(self, name: str) -> dict[str, dict[str, str]]:
        """The servers of deployment ``name``: HAProxy's ``show stat`` row per server name."""
        text = self.command(f"show stat d-{name} 4 -1").lstrip("# ")
        rows = csv.DictReader(io.StringIO(text))
        return {row["svname"]: row for row in rows if row.get("pxname") == f"d-{name}"}

    # -- what the deploy backend asks for -----------------------------------------------------
    def route(self, name: str, servers: list[Route]) -> str:
        """Serve ``name`` from ``servers`` with their weights; return the gateway's URL.

        New servers are added and must pass their health check before any weight moves;
        servers no longer listed are drained (no new requests, the running ones finish) and
        removed. Without a reload when ``name`` is already served.
        """
        with self._locked():
            port, routes = self._load()
            if not self.running() or name not in routes:
                routes[name] = list(servers)
                self._reload(port, routes)
                self._wait(lambda: self._all_up(name, servers), "see the model servers up")
                return self.url
            current = {r.server: r for r in routes[name]}
            wanted = {r.server: r for r in servers}
            for route in servers:
                if route.server not in current:
                    self._add(name, route)
            self._wait(lambda: self._all_up(name, servers), "see the new model server up")
            for route in servers:
                self._runtime(f"set server d-{name}/{route.server} weight {route.weight}")
            # the new weights are in force: record them before draining (a restart now
            # serves the new split)
            routes[name] = [*servers, *(r for r in current.values() if r.server not in wanted)]
            routes[name] = [
                r if r.server in wanted else Route(r.server, r.port, 0) for r in routes[name]
            ]
            self._save(port, routes)
            for old in current:
                if old not in wanted:
                    self._remove(name, old)
            routes[name] = list(servers)
            self._save(port, routes)
            return self.url

    def _add(self, name: str, route: Route) -> None:
        server = f"d-{name}/{route.server}"
        # created in maintenance with weight 0: it takes traffic only once weights move
        self._runtime(f"add server {server} 127.0.0.1:{route.port} weight 0 {CHECK}")
        self._runtime(f"enable health {server}")
        self._runtime(f"enable server {server}")

    def _all_up(self, name: str, servers: list[Route]) -> bool:
        stats = self.stats(name)
        return all(stats.get(r.server, {}).get("status") == "UP" for r in servers)

    def _remove(self, name: str, server: str) -> None:
        """Drain ``server``: no new requests; wait for the running ones; then delete it."""
        target = f"d-{name}/{server}"
        self._runtime(f"set server {target} state drain")
        deadline = time.monotonic() + DRAIN_TIMEOUT
        while time.monotonic() < deadline:
            row = self.stats(name).get(server)
            if row is None or (row.get("scur") in ("0", "") and row.get("qcur") in ("0", "")):
                break
            time.sleep(0.05)
        self._runtime(f"set server {target} state maint")
        self._runtime(f"shutdown sessions server {target}")
        with contextlib.suppress(Unavailable):  # idle pooled connections may hold it a moment
            for _ in range(50):
                if "Server deleted" in self.command(f"del server {target}"):
                    break
                time.sleep(0.1)

    def forget(self, name: str) -> None:
        """Stop routing ``name`` (undeploy): reload without its backend; the last one stops the
        gateway."""
        with self._locked():
            port, routes = self._load()
            if routes.pop(name, None) is None:
                return
            if self.running() and routes:
                self._reload(port, routes)
                return
            self._save(port, routes)  # nothing left to serve: stop (the port stays recorded)
        self.stop()

    def sync(self, routes: Routes) -> str:
        """After a restart: the routes of these deployments as recorded (others kept); start
        or reload the gateway on its recorded port."""
        with self._locked():
            port, current = self._load()
            current.update(routes)
            if self.running():
                self._reload(port, current)
            else:
                self._start(port, current)
        return self.url


def gateway_ready(url: str, name: str) -> bool:
    """``name`` answers ready through the gateway."""
    return http_ok(f"{url}/v2/models/{name}/ready")
