"""Deployment targets: the backend named by a deployment's ``target``; the service decides,
backends apply.

A backend turns a :class:`Deployment` record into running model servers and reports back.
Every method is synchronous and may block (the REST surface calls it off the event loop);
``progress`` receives short human-readable steps for the progress shown to the user.
A backend never leaves a half-applied rollout: when ``apply`` fails it restores what served
before (or removes what it created) and raises.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.deploy.models import Deployment
from jupyter_mlplat.errors import InvalidInput
from jupyter_mlplat.infra.plugins import Backend

Progress = Callable[[str, float], None]  # (step description, fraction done 0..1)


def no_progress(step: str, fraction: float) -> None:
    """A progress callback that ignores everything."""


class DeployBackend(Backend):
    """What the deploy service needs from a target."""

    kind = "deploy"
    noun = "deploy target"

    def check(self, deployment: Deployment) -> None:
        """Refuse, with one clear line, what the target would reject or ignore, before any
        record changes (KServe: a canary in Standard mode, a name too long for its Services)."""

    @abstractmethod
    def apply(
        self, deployment: Deployment, previous: Deployment | None, progress: Progress
    ) -> Deployment:
        """Make the target serve ``deployment`` (stable + optional canary) and wait until ready.

        ``previous`` is what served under this name before (None for a new deployment); on
        failure the target is returned to it. Returns the record with state, endpoint and
        details filled in.
        """

    @abstractmethod
    def status(self, deployment: Deployment) -> Deployment:
        """The record refreshed from the target (state, endpoint, message)."""

    @abstractmethod
    def delete(self, deployment: Deployment) -> None:
        """Stop serving and remove everything created for ``deployment`` (idempotent)."""

    @abstractmethod
    def restore(self, deployments: list[Deployment]) -> list[Deployment]:
        """After a server restart: re-attach to (or restart) what was deployed."""

    def log(self, deployment: Deployment, lines: int) -> dict[str, str]:
        """The last ``lines`` of each model server's log, by version."""
        raise InvalidInput(
            f"{deployment.target} deployments log in the cluster: kubectl logs -l "
            f"serving.kserve.io/inferenceservice={deployment.name}"
        )


def backend_for(config: MLPlat, target: str) -> DeployBackend:
    """The backend of ``target`` (imported on first use)."""
    return DeployBackend.create(target, config)
