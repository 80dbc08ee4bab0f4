"""A real Kubernetes API server for tests: ``kubelite-apiserver`` with the upstream CRDs.

kubelite (``../shared/kubelite``) is the upstream API server on an embedded etcd: schema
validation, status subresources, watch, 409s... but no controllers, scheduler or garbage
collector. Tests "play the operator" by patching ``status`` themselves.

Fixtures (register with ``pytest_plugins = ["tests.support.kubelite"]`` or by importing them):

- ``kubelite`` (session): the running server. Every CRD of ``../shared/crds`` is installed once,
  in the background, smallest first; ``kubelite.wait_for_crds("SparkConnect")`` waits for the
  kinds a test needs (established, served and warmed up: the first create of a new kind
  otherwise waits ~2 s), so Spark tests do not wait for the megabytes of KServe schema;
- ``kube_client`` (session): a ``kubernetes.dynamic.DynamicClient``, once every CRD is ready;
- ``k8s_namespace``: a fresh namespace per test.
"""

from __future__ import annotations

import contextlib
import json
import lzma
import os
import re
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("MLP_TEST_SHARED_DIR", ROOT.parent / "shared"))
KUBELITE_XZ = SHARED / "kubelite" / "kubelite-apiserver.xz"
CRD_DIR = SHARED / "crds"
BINARY = ROOT / ".cache" / "kubelite-apiserver"
#: Service accounts that also get a bearer token (``--token-auth-file``), for processes that
#: cannot impersonate, such as a Jupyter server under test: ``Kubelite.kubeconfig_as``.
TOKEN_ACCOUNTS = [("mlplat-ada", "mlplat-notebook")]


def kubelite_binary() -> Path:
    """Unpack the server into ``.cache`` once (again only when the archive is newer)."""
    if not KUBELITE_XZ.exists():
        pytest.fail(f"{KUBELITE_XZ} is missing: ../shared must be beside the repo")
    if BINARY.exists() and BINARY.stat().st_mtime >= KUBELITE_XZ.stat().st_mtime:
        return BINARY
    BINARY.parent.mkdir(parents=True, exist_ok=True)
    partial = BINARY.with_name(f"{BINARY.name}.{os.getpid()}.partial")
    with lzma.open(KUBELITE_XZ) as packed, partial.open("wb") as unpacked:
        shutil.copyfileobj(packed, unpacked, 1 << 20)
    partial.chmod(0o755)
    partial.replace(BINARY)
    return BINARY


class Kubelite:
    """A running kubelite-apiserver and the installation of the CRDs into it."""

    def __init__(self, process: subprocess.Popen[bytes], data_dir: Path, log: Path) -> None:
        self.process, self.data_dir, self.log = process, data_dir, log
        self.crds: dict[str, dict[str, Any]] = {}  # kind -> the CRD, once ready
        self._install_finished = False
        self._stopping = False
        self._install_error: BaseException | None = None
        self._changed = threading.Condition()
        self._client: Any = None

    @property
    def kubeconfig(self) -> Path:
        """The admin kubeconfig the server wrote (``KUBECONFIG=...`` for a subprocess)."""
        return self.data_dir / "kubeconfig"

    @property
    def client(self) -> Any:
        """The tests' ``DynamicClient`` (for the test thread; others make their own)."""
        if self._client is None:
            self._client = self.dynamic_client()
        return self._client

    def dynamic_client(self, act_as: str = "") -> Any:
        """A new ``DynamicClient`` for this server (its discovery cache in the data dir).

        ``act_as`` impersonates a user (``system:serviceaccount:NS:NAME`` for a service account):
        the server runs with ``--authorization-mode RBAC``, so that client gets exactly the
        permissions RBAC grants that user, and 403 elsewhere.
        """
        from kubernetes import dynamic

        cache = self.data_dir / f"discovery-{uuid.uuid4().hex[:8]}.json"
        return dynamic.DynamicClient(self.api_client(act_as), cache_file=str(cache))

    def api_client(self, act_as: str = "") -> Any:
        """A ``kubernetes.client.ApiClient`` for this server, optionally impersonating a user."""
        from kubernetes import config

        api_client = config.new_client_from_config(config_file=str(self.kubeconfig))
        if act_as:
            api_client.set_default_header("Impersonate-User", act_as)
        return api_client

    def kubeconfig_as(self, namespace: str, name: str, path: Path) -> Path:
        """A kubeconfig at ``path`` that authenticates as the service account ``namespace/name``
        (one of ``TOKEN_ACCOUNTS``) with a bearer token: RBAC applies, no impersonation."""
        if (namespace, name) not in TOKEN_ACCOUNTS:
            raise ValueError(f"{namespace}/{name} has no token: add it to TOKEN_ACCOUNTS")
        config = yaml.safe_load(self.kubeconfig.read_text())
        for user in config["users"]:
            user["user"] = {"token": _token(namespace, name)}
        path.write_text(yaml.safe_dump(config))
        return path

    def as_service_account(self, namespace: str, name: str) -> Any:
        """A ``DynamicClient`` acting as the service account ``namespace/name`` (RBAC applies)."""
        return self.dynamic_client(act_as=f"system:serviceaccount:{namespace}:{name}")

    # -- CRDs -------------------------------------------------------------------------------
    def install_crds(self, paths: list[Path]) -> None:
        """Install the CRDs in ``paths`` in a background thread, in this order."""
        threading.Thread(
            target=self._install, args=(paths,), name="kubelite-crds", daemon=True
        ).start()

    def wait_for_crds(self, *kinds: str, timeout: float = 180) -> None:
        """Block until the CRDs of ``kinds`` (default: all) are established, served and warm."""
        with self._changed:
            self._changed.wait_for(
                lambda: self._install_finished or (kinds and set(kinds) <= self.crds.keys()),
                timeout,
            )
            missing = set(kinds) - self.crds.keys()
            if missing or not (kinds or (self._install_finished and not self._install_error)):
                raise RuntimeError(
                    f"CRDs not ready (waited up to {timeout:.0f} s; missing "
                    f"{sorted(missing) or 'some'}): {self._install_error!r}"
                )

    def _install(self, paths: list[Path]) -> None:
        try:
            client = self.dynamic_client()
            with ThreadPoolExecutor(4) as warm_ups:
                for path in paths:
                    if self._stopping:
                        return
                    for crd in create_crds(client, path):
                        resource = wait_until_served(client, crd)
                        warm_ups.submit(self._warm_up, resource, crd)
        except BaseException as err:
            if not self._stopping:  # not merely the server stopping under us
                self._install_error = err
        finally:
            with self._changed:
                self._install_finished = True
                self._changed.notify_all()

    def _warm_up(self, resource: Any, crd: dict[str, Any]) -> None:
        try:
            warm_up(resource)
        except BaseException as err:
            self._install_error = err
        with self._changed:
            self.crds[resource.kind] = crd
            self._changed.notify_all()

    def stop(self) -> None:
        self._stopping = True
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def start_kubelite(data_dir: Path, timeout: float = 60) -> Kubelite:
    """Start the server on a free loopback port and wait until ``/readyz`` answers ok."""
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir.parent / f"{data_dir.name}.log"
    tokens = data_dir.parent / f"{data_dir.name}-tokens.csv"
    tokens.write_text(
        "".join(
            f"{_token(ns, name)},system:serviceaccount:{ns}:{name},{ns}-{name},"
            f'"system:serviceaccounts,system:serviceaccounts:{ns}"\n'
            for ns, name in TOKEN_ACCOUNTS
        )
    )
    with log.open("wb") as out:
        process = subprocess.Popen(
            # RBAC enforced as on a real cluster; the admin kubeconfig is in system:masters
            [
                str(kubelite_binary()),
                *("--data-dir", str(data_dir), "--secure-port", "0"),
                *("--authorization-mode", "RBAC"),
                *("--token-auth-file", str(tokens)),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Kubelite(process, data_dir, log)
    deadline = time.monotonic() + timeout
    while not _ready(server):
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"kubelite-apiserver did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)
    return server


def _token(namespace: str, name: str) -> str:
    return f"test-token-{namespace}-{name}"


def _ready(server: Kubelite) -> bool:
    try:
        cluster = yaml.safe_load(server.kubeconfig.read_text())["clusters"][0]["cluster"]
        answer = requests.get(
            f"{cluster['server']}/readyz", verify=cluster["certificate-authority"], timeout=2
        )
    except (OSError, TypeError, KeyError, requests.RequestException):
        return False
    return answer.status_code == 200 and answer.text == "ok"


def create_crds(client: Any, path: Path) -> list[dict[str, Any]]:
    """Create the CRDs of a YAML file. The YAML goes to the server as it is
    (``application/yaml``): parsing megabytes of KServe schema in Python costs more."""
    created = []
    for document in re.split(r"^---\s*$", path.read_text(), flags=re.MULTILINE):
        if document.strip():
            answer = client.request(
                "post",
                "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                body=document,
                content_type="application/yaml",
                serialize=False,
            )
            created.append(json.loads(answer.data))
    return created


def wait_until_served(client: Any, crd: dict[str, Any], timeout: float = 120) -> Any:
    """Wait until the CRD's kind is in discovery and the CRD is Established; its resource."""
    from kubernetes.dynamic.exceptions import ResourceNotFoundError

    name, kind, group = crd["metadata"]["name"], crd["spec"]["names"]["kind"], crd["spec"]["group"]
    version = next(v["name"] for v in crd["spec"]["versions"] if v.get("storage"))
    crd_api = client.resources.get(
        api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition"
    )
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(ResourceNotFoundError):  # discovery is cheap to poll...
            resource = client.resources.get(api_version=f"{group}/{version}", kind=kind)
            # ...a megabyte-sized CRD is not: read it once it is served, raw (serialize=False)
            status = json.loads(crd_api.get(name=name, serialize=False).data).get("status")
            conditions = (status or {}).get("conditions") or []
            if any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
                return resource
        if time.monotonic() > deadline:
            raise TimeoutError(f"CRD {name} is not established and served")
        time.sleep(0.2)


def warm_up(resource: Any) -> None:
    """A dry-run create pays the first-create delay of a new kind (~2 s) here, once.
    The empty object is invalid for most kinds (422): only the round trip matters."""
    from kubernetes.client.exceptions import ApiException

    body = {"apiVersion": resource.group_version, "kind": resource.kind}
    body["metadata"] = {"name": "warm-up"}
    try:
        resource.create(
            body=body, namespace="default" if resource.namespaced else None, dry_run="All"
        )
    except ApiException as err:
        if err.status != 422:
            raise


@pytest.fixture(scope="session")
def kubelite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kubelite]:
    """One API server per test session; every CRD of ``../shared/crds`` is being installed."""
    server = start_kubelite(tmp_path_factory.mktemp("kubelite") / "data")
    try:
        # smallest first: SparkConnect (52 kB) is ready in seconds, InferenceService (2 MB) last
        server.install_crds(sorted(CRD_DIR.glob("*.yaml"), key=lambda path: path.stat().st_size))
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def kube_client(kubelite: Kubelite) -> Any:
    """A ``kubernetes.dynamic.DynamicClient`` for the session's server, all CRDs ready."""
    kubelite.wait_for_crds()
    return kubelite.client


@pytest.fixture
def k8s_namespace(kubelite: Kubelite) -> Iterator[str]:
    """A fresh namespace for one test (kubelite has no namespace controller: deleting it only
    marks it Terminating, which is enough for a throwaway server)."""
    namespaces = kubelite.client.resources.get(api_version="v1", kind="Namespace")
    name = f"t-{uuid.uuid4().hex[:10]}"
    namespaces.create(body={"metadata": {"name": name}})
    yield name
    namespaces.delete(name=name)
