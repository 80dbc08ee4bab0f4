"""The one Kubernetes module: clients, one-line errors, names, owner labels and watches.

Every caller that talks to Kubernetes (Spark sessions, KServe, the spawner hooks) gets its
clients, its error messages, its names and labels and its "wait until ..." from here, so that
the platform's objects and messages look the same wherever they come from.

``kubernetes`` is imported on first use only: it costs ~1 s, which a kernel must not pay at start.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from jupyter_mlplat.errors import Conflict, InvalidInput, MLPlatError, NotFound, Unavailable

if TYPE_CHECKING:
    from kubernetes.client import ApiClient
    from kubernetes.dynamic import DynamicClient

MANAGED_BY = {"app.kubernetes.io/managed-by": "jupyter-mlplat"}
USER_LABEL = "jupyter-mlplat/user"
#: Longest DNS-1035 label (Service names, and every name KServe derives one from).
MAX_LABEL = 63
RBAC_HINT = "check the RBAC of the notebook's service account"

T = TypeVar("T")


@dataclass(frozen=True)
class Kind:
    """A kind of object the platform manages, and who must be installed for it to be served."""

    group: str
    version: str
    kind: str
    plural: str
    installed_by: str = ""  # e.g. "KServe": named when the cluster does not serve the kind

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def resource(self) -> str:
        """``plural.group`` as RBAC rules and ``kubectl auth can-i`` name it."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


# -- clients -----------------------------------------------------------------------------------
def default_api_client() -> ApiClient:
    """The raw ``ApiClient``: the pod's service account in a cluster, else the kubeconfig."""
    from kubernetes import client, config

    with translated("configure the Kubernetes client"):
        configuration = client.Configuration()
        try:
            config.load_incluster_config(client_configuration=configuration)
            return client.ApiClient(configuration)
        except config.ConfigException:
            return config.new_client_from_config()


def dynamic_client(api_client: ApiClient | None = None) -> DynamicClient:
    """A ``DynamicClient`` (plain dicts; the typed models break with kubernetes 37)."""
    from kubernetes import dynamic

    api_client = bounded(api_client or default_api_client())
    with translated("discover the Kubernetes API"):
        return dynamic.DynamicClient(api_client)


#: Seconds to connect to / hear from the API server before a request fails (the client's
#: default is to wait forever: a stalled API server would hang a deploy or a submission).
CONNECT_TIMEOUT, READ_TIMEOUT = 10.0, 30.0


def bounded(api_client: ApiClient) -> ApiClient:
    """``api_client`` with request timeouts on every call that sets none of its own (the
    client passes ``timeout=None`` down to urllib3, so a pool default would not apply)."""
    rest: Any = api_client.rest_client
    if getattr(rest, "mlplat_bounded", False):
        return api_client
    unbounded: Any = rest.request

    def request(*args: Any, _request_timeout: Any = None, **kwargs: Any) -> Any:
        timeout = _request_timeout or (CONNECT_TIMEOUT, READ_TIMEOUT)
        return unbounded(*args, _request_timeout=timeout, **kwargs)

    rest.request = request
    rest.mlplat_bounded = True
    return api_client


def resource_api(client: DynamicClient, kind: Kind, namespace: str = "") -> Any:
    """The dynamic resource of ``kind`` (Unavailable naming the operator when not served)."""
    with translated(f"discover the {kind.kind} API", kind, namespace):
        return client.resources.get(api_version=kind.api_version, kind=kind.kind)


class Rollback:
    """All or nothing for a change of several objects: each step registers how to undo it
    (:meth:`add`); when the change fails, the undo steps run latest first and the failure is
    raised again — naming, on the same line, what could not be undone."""

    def __init__(self, could_not: str) -> None:
        self.could_not = could_not  # e.g. "delete what was created"
        self.steps: list[Callable[[], None]] = []

    def add(self, step: Callable[[], None]) -> None:
        self.steps.append(step)

    def __enter__(self) -> Rollback:
        return self

    def __exit__(self, kind: Any, err: BaseException | None, trace: Any) -> None:
        if err is None:
            return
        failures = []
        for step in reversed(self.steps):
            try:
                step()
            except MLPlatError as failure:
                failures.append(str(failure))
        if failures and isinstance(err, MLPlatError):
            undone = "; ".join(failures)
            raise type(err)(f"{err}; and could not {self.could_not}: {undone}") from err


class Objects:
    """The objects of one kind in one namespace: clients created on first use (the raw
    ``ApiClient``, the ``DynamicClient``, the kind's resource) and errors worded for the kind."""

    def __init__(
        self,
        kind: Kind,
        namespace: str,
        *,
        api_client: ApiClient | None = None,
        client: DynamicClient | None = None,
    ) -> None:
        self.kind, self.namespace = kind, namespace
        self._api_client: Any = api_client
        self._client: Any = client
        self._api: Any = None

    @property
    def api_client(self) -> Any:
        """The raw ``ApiClient`` (in-cluster or kubeconfig unless one was given)."""
        if self._api_client is None:
            self._api_client = (
                self._client.client if self._client is not None else default_api_client()
            )
        return self._api_client

    @property
    def client(self) -> Any:
        """The ``DynamicClient`` over :attr:`api_client`."""
        if self._client is None:
            self._client = dynamic_client(self._api_client)
        return self._client

    @property
    def api(self) -> Any:
        """The kind's dynamic resource (discovered on first use)."""
        if self._api is None:
            self._api = resource_api(self.client, self.kind, self.namespace)
        return self._api

    def translated(self, verb: str, name: str) -> contextlib.AbstractContextManager[None]:
        """``translated`` for ``verb`` on the object ``name`` of this kind."""
        action = f"{verb} {self.kind.kind} {self.namespace}/{name}"
        return translated(action, self.kind, self.namespace)

    def get(self, name: str) -> dict[str, Any] | None:
        """The object as a dict, None if there is none."""
        from kubernetes.client.exceptions import ApiException

        with self.translated("get", name):
            try:
                return dict(self.api.get(name=name, namespace=self.namespace).to_dict())
            except ApiException as err:
                if err.status == 404:
                    return None
                raise

    def watch_until(self, name: str, **kwargs: Any) -> Any:
        """:func:`watch_until` on the object ``name`` of this kind."""
        action = f"watch {self.kind.kind} {self.namespace}/{name}"
        return watch_until(
            self.client, self.api, namespace=self.namespace, name=name, action=action, **kwargs
        )

    def delete(self, found: dict[str, Any], propagation: str = "") -> None:
        """Delete exactly ``found`` (by uid: never a namesake created meanwhile); a missing
        object is fine."""
        from kubernetes.client.exceptions import ApiException

        name = found["metadata"]["name"]
        options: dict[str, Any] = {"apiVersion": "v1", "kind": "DeleteOptions"}
        options["preconditions"] = {"uid": found["metadata"]["uid"]}
        if propagation:
            options["propagationPolicy"] = propagation  # a body overrides query params
        with self.translated("delete", name):
            try:
                self.api.delete(name=name, namespace=self.namespace, body=options)
            except ApiException as err:
                if err.status != 404:
                    raise


# -- errors ------------------------------------------------------------------------------------
@contextlib.contextmanager
def translated(
    action: str, kind: Kind | None = None, namespace: str = "", verb: str = ""
) -> Iterator[None]:
    """Turn Kubernetes client errors into platform errors with one clear line.

    ``action`` says what was tried (``create InferenceService ns/iris``); ``verb`` is the API
    verb RBAC checks (default: the first word of ``action``).
    """
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config.config_exception import ConfigException
    from kubernetes.dynamic.exceptions import ResourceNotFoundError
    from urllib3.exceptions import HTTPError

    try:
        yield
    except ResourceNotFoundError as err:
        raise not_served(action, kind) from err
    except ApiException as err:
        raise api_error(err, action, kind, namespace, verb) from err
    except ConfigException as err:
        raise Unavailable(f"cannot {action}: no Kubernetes configuration ({err})") from err
    except (HTTPError, OSError) as err:
        raise Unavailable(f"cannot {action}: Kubernetes API unreachable ({err})") from err


def api_error(
    err: Any, action: str, kind: Kind | None = None, namespace: str = "", verb: str = ""
) -> Exception:
    """The platform error for an ``ApiException`` (pure: only reads ``status``/``body``)."""
    status = err.status or 0
    if status == 403:
        verb = verb or action.split(" ", 1)[0]
        what = kind.resource if kind else "this resource"
        where = f" in namespace {namespace}" if namespace else ""
        return Unavailable(f"cannot {action}: not allowed to {verb} {what}{where} ({RBAC_HINT})")
    if status == 404 and _is_unserved(err):
        return not_served(action, kind)
    error = {400: InvalidInput, 404: NotFound, 409: Conflict, 422: InvalidInput}.get(
        status, Unavailable
    )
    return error(f"cannot {action}: {api_message(err)}")


def not_served(action: str, kind: Kind | None) -> Unavailable:
    """The one message for a kind the cluster does not serve (its CRD is not installed)."""
    if kind is None:
        return Unavailable(f"cannot {action}: the cluster does not serve this API")
    installed = f" (is {kind.installed_by} installed?)" if kind.installed_by else ""
    return Unavailable(
        f"cannot {action}: this cluster does not serve {kind.api_version} {kind.kind}{installed}"
    )


def api_message(err: Any) -> str:
    """The API's own message in one line: the first cause of a validation error (field:
    message), else the Status message, else the HTTP status."""
    body = _status_body(err)
    causes = (body.get("details") or {}).get("causes") or []
    if causes:
        cause = causes[0]
        field = cause.get("field", "")
        message = f"{field}: {cause.get('message', '')}" if field else cause.get("message", "")
    elif body.get("message"):
        message = body["message"]
    else:
        message = f"{err.status} {err.reason}"
    return " ".join(str(message).split())


def _status_body(err: Any) -> dict[str, Any]:
    try:
        body = json.loads(err.body or "")
    except (ValueError, TypeError):
        return {}
    return body if isinstance(body, dict) else {}


def _is_unserved(err: Any) -> bool:
    """A 404 for the API path itself (no such group/version/resource), not for an object:
    the API server then names no object in ``details``."""
    body = _status_body(err)
    details = body.get("details") or {}
    return not details.get("name") and "could not find the requested resource" in str(
        body.get("message") or err.body or ""
    )


# -- names and labels --------------------------------------------------------------------------
def dns_label(text: str, max_length: int = MAX_LABEL) -> str:
    """Lower-case alphanumerics and dashes; a hash of the original keeps altered names unique."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    if slug == text and len(slug) <= max_length:
        return slug
    digest = hashlib.sha256(text.encode()).hexdigest()[:6]
    return f"{slug[: max_length - len(digest) - 1].rstrip('-')}-{digest}".lstrip("-")


def user_label(user: str) -> str:
    """The user as a label value (the same slug as in resource names)."""
    return dns_label(user, MAX_LABEL)


def owner_labels(user: str) -> dict[str, str]:
    """The labels every object the platform creates for ``user`` carries."""
    return {**MANAGED_BY, USER_LABEL: user_label(user)}


def is_managed(found: dict[str, Any]) -> bool:
    """Whether an object carries the platform's managed-by label."""
    labels = (found.get("metadata") or {}).get("labels") or {}
    return MANAGED_BY.items() <= labels.items()


# -- watching ----------------------------------------------------------------------------------
def watch_until(
    client: DynamicClient,
    api: Any,
    *,
    namespace: str,
    name: str,
    current: dict[str, Any] | None,
    check: Callable[[dict[str, Any] | None], T | None],
    read: Callable[[], dict[str, Any] | None],
    timeout: float,
    on_wait: Callable[[dict[str, Any] | None, float], None] | None = None,
    interval: float = 2.0,
    action: str = "",
) -> T | None:
    """Watch one object until ``check(obj)`` returns something (returned), or ``timeout``
    seconds pass (None). ``check`` may raise to stop early.

    The watch starts at the object's resourceVersion (no change is missed between a read and
    the watch); on 410 Gone (that version is too old) and after every quiet ``interval`` the
    object is read again with ``read``. ``on_wait(obj, waited)`` is called before each wait,
    so at least every ``interval`` seconds: progress for the people waiting.
    """
    started = time.monotonic()
    obj = current
    while True:
        result = check(obj)
        if result is not None:
            return result
        waited = time.monotonic() - started
        if waited >= timeout:
            return None
        if on_wait is not None:
            on_wait(obj, waited)
        changed = _next_event(
            client,
            api,
            namespace=namespace,
            name=name,
            obj=obj,
            seconds=min(timeout - waited, interval),
            action=action,
        )
        obj = read() if changed is _REREAD else changed  # type: ignore[assignment]


_REREAD = object()


def _next_event(
    client: DynamicClient,
    api: Any,
    *,
    namespace: str,
    name: str,
    obj: dict[str, Any] | None,
    seconds: float,
    action: str,
) -> object:
    """The object after its next change, or ``_REREAD`` when it was deleted, nothing arrived
    in ``seconds`` or the watch expired (410). Watch granularity: 1 s."""
    from kubernetes.client.exceptions import ApiException

    version = ((obj or {}).get("metadata") or {}).get("resourceVersion")
    events = client.watch(
        api,
        namespace=namespace,
        name=name,
        resource_version=version,
        timeout=max(1, math.ceil(seconds)),
    )
    with translated(action or f"watch {namespace}/{name}"), contextlib.closing(events):
        try:
            for event in events:
                if event["type"] == "DELETED":
                    return _REREAD  # the caller's read says what that means (gone, re-create)
                if event["type"] in ("ADDED", "MODIFIED"):
                    return dict(event["raw_object"])
        except ApiException as err:
            if err.status != 410:  # 410 Gone: our version is too old; read again
                raise
    return _REREAD
