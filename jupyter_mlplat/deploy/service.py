"""The deploy service: one place that decides what a deployment becomes; backends apply it.

Records are JSON files under the store directory (written atomically), one per deployment
name, each with its owner: a user only ever sees and changes their own. One operation per
name at a time; a rollout runs on a background thread and writes its progress into the record
(``details.progress``), so every surface (REST, magics, panel) polls the same thing.

Semantics (the same for every target):
- deploy to a new name: a new deployment (a canary needs something to be a canary of);
- deploy to an existing name: replace the stable version (previous := old stable), or with
  ``canary=N`` add the new version as a canary with N % of the traffic;
- promote: stable := canary, previous := old stable;
- rollback: drop the canary if there is one, else stable := previous.
A failed rollout returns the target to what served before (the old record comes back, with a
message saying why); a failed new deployment leaves nothing running and a ``failed`` record.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.deploy.backends import DeployBackend, backend_for
from jupyter_mlplat.deploy.models import (
    Deployment,
    DeployRequest,
    ModelRef,
    Revision,
    Target,
    check_name,
)
from jupyter_mlplat.errors import Conflict, InvalidInput, NotFound

Resolver = Callable[[MLPlat, str], ModelRef]


def _resolve_with_registry(config: MLPlat, uri: str) -> ModelRef:
    from jupyter_mlplat.deploy.registry import resolve_model

    return resolve_model(config, uri)


def name_for_model(model_name: str) -> str:
    """A deployment name from a registered model's name (``Iris Model`` → ``iris-model``)."""
    name = re.sub(r"[^a-z0-9]+", "-", model_name.lower()).strip("-")
    if not name or not name[0].isalpha():
        name = f"model-{name}".rstrip("-")
    return name[:63].rstrip("-")


def revision_from_json(data: dict[str, Any] | None) -> Revision | None:
    if not data:
        return None
    fields = {k: v for k, v in data.items() if k != "traffic"}
    return Revision(ModelRef(**fields), int(data.get("traffic", 100)))


def deployment_from_json(data: dict[str, Any]) -> Deployment:
    """The inverse of :meth:`Deployment.to_json`."""
    stable = revision_from_json(data["stable"])
    assert stable is not None
    return Deployment(
        name=data["name"],
        owner=data["owner"],
        target=data["target"],
        stable=stable,
        canary=revision_from_json(data.get("canary")),
        previous=revision_from_json(data.get("previous")),
        state=data.get("state", "deploying"),
        endpoint=data.get("endpoint", ""),
        message=data.get("message", ""),
        reverted=bool(data.get("reverted", False)),
        created=float(data.get("created", 0.0)),
        updated=float(data.get("updated", 0.0)),
        details=dict(data.get("details") or {}),
    )


def _rollout_of(record: Deployment) -> str:
    """``rollout of version 2`` / ``canary rollout of version 3``: what ``record`` aimed for."""
    if record.canary is not None:
        return f"canary rollout of version {record.canary.model.version}"
    return f"rollout of version {record.stable.model.version}"


def _interrupted(record: Deployment, saved: Deployment | None) -> Deployment:
    """What a record cut short mid-rollout by a restart becomes: the ``saved`` record it
    started from (reverted, saying so), or for a new deployment a ``failed`` one."""
    reason = "was interrupted by a restart of the Jupyter server"
    if saved is None:
        record.state = "failed"
        record.endpoint = ""
        record.message = f"deploying version {record.stable.model.version} {reason}: deploy again"
        record.details = {"progress": {"step": "failed", "fraction": 1.0}}
        record.updated = time.time()
        return record
    saved.message = f"{_rollout_of(record)} {reason} and was reverted"
    saved.reverted = True
    saved.updated = time.time()
    return saved


class DeployService:
    """Deploy, list, promote, roll back and delete the configured user's deployments."""

    def __init__(
        self,
        config: MLPlat,
        store_dir: Path | None = None,
        *,
        resolver: Resolver = _resolve_with_registry,
        backends: dict[str, DeployBackend] | None = None,
    ) -> None:
        self.config = config
        self.owner = config.resolved_user
        self.store = Path(store_dir or config.resolved_state_dir / "deployments")
        self.resolver = resolver
        self._backends: dict[str, DeployBackend] = dict(backends or {})
        self._lock = threading.Lock()
        self._busy: dict[str, threading.Thread | None] = {}

    # -- reading ------------------------------------------------------------------------------
    def list(self) -> list[Deployment]:
        """The caller's deployments, newest first, refreshed from their targets."""
        return [self._refreshed(record) for record in self.records()]

    def records(self) -> builtins.list[Deployment]:
        """The caller's deployments as last recorded, newest first (no target is asked)."""
        found = []
        for path in sorted(self.store.glob("*.json")):
            record = None if path.stem.endswith(".rollback") else self._read(path)
            if record is not None and record.owner == self.owner:
                found.append(record)
        return sorted(found, key=lambda d: d.created, reverse=True)

    def get(self, name: str) -> Deployment:
        """One of the caller's deployments (NotFound for anyone else's)."""
        return self._refreshed(self._load(name))

    def wait(self, name: str, timeout: float | None = None) -> Deployment:
        """Block until the running operation on ``name`` (if any) ends; return the record."""
        with self._lock:
            thread = self._busy.get(name)
        if thread is not None:
            thread.join(timeout)
        return self._load(name)

    # -- operations ---------------------------------------------------------------------------
    def deploy(self, request: DeployRequest) -> Deployment:
        """Start deploying ``request``; returns the record in state ``deploying``."""
        target: Target = request.target or self.config.deploy_target
        name = check_name(request.name or name_for_model(ModelRef.parse(request.model_uri)[0]))
        with self._claim(name):
            existing = self._load_or_none(name)
            if existing is not None and existing.state == "failed" and not existing.endpoint:
                existing = None  # a failed new deployment: nothing serves; start over
            if existing is None and request.canary is not None:
                raise InvalidInput(
                    f"{name!r} is not deployed yet: deploy it without a canary first"
                )
            if existing is not None and existing.target != target:
                raise Conflict(
                    f"{name!r} is deployed to {existing.target}, not {target}: "
                    "undeploy it first or pick another name"
                )
            backend = self._backend(target)  # unknown/unavailable targets fail before any change
            model = self.resolver(self.config, request.model_uri)
            now = time.time()
            if existing is None:
                record = Deployment(name, self.owner, target, Revision(model), created=now)
            elif request.canary is None:
                record = self._next(existing, Revision(model), None, existing.stable)
            else:
                if model.version == existing.stable.model.version:
                    raise InvalidInput(
                        f"version {model.version} of {model.name} is already {name}'s stable "
                        "version"
                    )
                stable = replace(existing.stable, traffic=100 - request.canary)
                canary = Revision(model, request.canary)
                record = self._next(existing, stable, canary, existing.previous)
            return self._start(record, existing, backend)

    def promote(self, name: str) -> Deployment:
        """Send all traffic to the canary: stable := canary, previous := old stable."""
        with self._claim(name):
            existing = self._load(name)
            if existing.canary is None:
                raise InvalidInput(f"{name!r} has no canary to promote")
            stable = Revision(existing.canary.model, 100)
            previous = replace(existing.stable, traffic=100)
            record = self._next(existing, stable, None, previous)
            return self._start(record, existing, self._backend(existing.target))

    def rollback(self, name: str) -> Deployment:
        """Drop the canary if there is one, else return to the previous stable version."""
        with self._claim(name):
            existing = self._load(name)
            if existing.canary is not None:
                stable = replace(existing.stable, traffic=100)
                record = self._next(existing, stable, None, existing.previous)
            elif existing.previous is not None:
                record = self._next(existing, replace(existing.previous, traffic=100), None, None)
            else:
                raise InvalidInput(f"{name!r} has nothing to roll back to")
            return self._start(record, existing, self._backend(existing.target))

    def delete(self, name: str) -> None:
        """Stop serving ``name`` and forget it."""
        with self._claim(name):
            existing = self._load(name)
            self._backend(existing.target).delete(existing)
            self._path(name).unlink(missing_ok=True)
            self._rollback_path(name).unlink(missing_ok=True)

    def log(self, name: str, lines: int = 100) -> dict[str, str]:
        """The last ``lines`` of each of ``name``'s model servers' logs, by version."""
        if not 1 <= lines <= 5000:
            raise InvalidInput("tail must be between 1 and 5000")
        existing = self._load(name)
        return self._backend(existing.target).log(existing, lines)

    def restore(self) -> builtins.list[Deployment]:
        """At server start: re-attach to (or restart) the caller's deployments.

        A record still ``deploying`` was cut short by the restart (the Jupyter server died
        mid-rollout): it goes back to what served before, marked ``reverted`` with a message
        saying so, or, for a new deployment, becomes ``failed``. The backend then makes its
        servers and routes agree with the records (it stops what a cut-short rollout started).
        Every name is held meanwhile: an operation asked for during the restore is a Conflict.
        """
        records = []
        for path in sorted(self.store.glob("*.json")):
            record = self._read(path)
            if record is None or record.owner != self.owner or path.stem.endswith(".rollback"):
                continue
            records.append(record)
        with contextlib.ExitStack() as held:
            for record in records:
                held.enter_context(self._claim(record.name))
            return self._restore(records)

    def _restore(self, records: builtins.list[Deployment]) -> builtins.list[Deployment]:
        # records are saved once their target agrees with them: a restore cut short is
        # done again at the next start (from the same records and rollback copies)
        by_target: dict[str, builtins.list[Deployment]] = {}
        for found in records:
            record = found
            if found.state == "deploying":
                # the server stopped mid-rollout: go back to what served before
                record = _interrupted(found, self._read(self._rollback_path(found.name)))
            by_target.setdefault(record.target, []).append(record)
        restored: builtins.list[Deployment] = []
        for target, targeted in by_target.items():
            try:
                done = self._backend(target).restore(targeted)
            except Exception as err:
                for record in targeted:
                    record.message = f"could not restore: {err}"
                done = targeted
            for record in done:
                self._save(record)
                # no operation runs now: the rollback copy has served (or is stale)
                self._rollback_path(record.name).unlink(missing_ok=True)
            restored.extend(done)
        return restored

    # -- the rollout --------------------------------------------------------------------------
    def _next(
        self,
        existing: Deployment,
        stable: Revision,
        canary: Revision | None,
        previous: Revision | None,
    ) -> Deployment:
        """The record a rollout aims for, starting from ``existing``."""
        return Deployment(
            name=existing.name,
            owner=existing.owner,
            target=existing.target,
            stable=stable,
            canary=canary,
            previous=previous,
            state="deploying",
            endpoint=existing.endpoint,  # still serves until the rollout switches over
            created=existing.created,
            details=dict(existing.details),
        )

    def _start(
        self, record: Deployment, existing: Deployment | None, backend: DeployBackend
    ) -> Deployment:
        # what the target would reject or ignore fails here, in one line, before any record
        # changes (KServe: a canary in Standard mode, a name too long for its Services)
        backend.check(record)
        record.state = "deploying"
        record.message = ""
        record.updated = time.time()
        record.details["progress"] = {"step": "queued", "fraction": 0.0}
        if existing is not None:
            self._save(existing, self._rollback_path(record.name))
        self._save(record)
        thread = threading.Thread(
            target=self._rollout,
            args=(record, existing, backend),
            name=f"mlplat-deploy-{record.name}",
            daemon=True,
        )
        started = deployment_from_json(record.to_json())  # before the thread changes it
        with self._lock:
            self._busy[record.name] = thread
        thread.start()
        return started

    def _rollout(
        self, record: Deployment, existing: Deployment | None, backend: DeployBackend
    ) -> None:
        def progress(step: str, fraction: float) -> None:
            record.details["progress"] = {"step": step, "fraction": round(fraction, 3)}
            record.updated = time.time()
            self._save(record)

        try:
            target_record = deployment_from_json(record.to_json())
            target_record.details.pop("progress", None)
            result = backend.apply(target_record, existing, progress)
            result.state = "ready"
            result.reverted = False
            result.details["progress"] = {"step": "ready", "fraction": 1.0}
            result.updated = time.time()
            self._save(result)
        except Exception as err:
            reason = str(err).strip() or type(err).__name__
            if existing is not None:
                existing.message = f"{_rollout_of(record)} failed and was reverted: {reason}"
                existing.reverted = True
                existing.updated = time.time()
                self._save(existing)
            else:
                record.state = "failed"
                record.endpoint = ""
                record.message = reason
                record.details = {"progress": {"step": "failed", "fraction": 1.0}}
                record.updated = time.time()
                self._save(record)
        finally:
            self._rollback_path(record.name).unlink(missing_ok=True)
            with self._lock:
                self._busy.pop(record.name, None)

    @contextlib.contextmanager
    def _claim(self, name: str) -> Any:
        """Hold ``name`` for one operation; a second one at the same time is a Conflict."""
        check_name(name)
        with self._lock:
            if name in self._busy:
                raise Conflict(f"an operation on {name!r} is still running: try again when done")
            self._busy[name] = None
        try:
            yield
        except BaseException:
            with self._lock:
                self._busy.pop(name, None)
            raise
        with self._lock:
            if self._busy.get(name) is None:  # no background rollout took over
                self._busy.pop(name, None)

    # -- storage ------------------------------------------------------------------------------
    def _backend(self, target: str) -> DeployBackend:
        if target not in self._backends:
            self._backends[target] = backend_for(self.config, target)
        return self._backends[target]

    def _refreshed(self, record: Deployment) -> Deployment:
        if record.state != "ready" or record.name in self._busy:
            return record
        try:
            return self._backend(record.target).status(record)
        except Exception as err:  # an unreachable target must not hide the list
            record.message = f"status unknown: {err}"
            return record

    def _path(self, name: str) -> Path:
        return self.store / f"{name}.json"

    def _rollback_path(self, name: str) -> Path:
        return self.store / f"{name}.rollback.json"

    def _read(self, path: Path) -> Deployment | None:
        try:
            return deployment_from_json(json.loads(path.read_text()))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _load_or_none(self, name: str) -> Deployment | None:
        record = self._read(self._path(name))
        if record is not None and record.owner != self.owner:
            raise Conflict(f"the deployment name {name!r} is taken: pick another one")
        return record

    def _load(self, name: str) -> Deployment:
        check_name(name)
        record = self._read(self._path(name))
        if record is None or record.owner != self.owner:
            raise NotFound(f"no deployment named {name!r}")
        return record

    def _save(self, record: Deployment, path: Path | None = None) -> None:
        path = path or self._path(record.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_name(f".{path.name}.{threading.get_ident()}.tmp")
        staging.write_text(json.dumps(record.to_json(), indent=2))
        staging.chmod(0o600)
        os.replace(staging, path)
