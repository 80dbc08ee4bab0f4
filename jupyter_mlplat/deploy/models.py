"""What the deploy service works with: model references, deployment records, requests."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from jupyter_mlplat.errors import InvalidInput

Target = str  # a deploy backend's name (``config.BUILTIN_BACKENDS["deploy"]`` or a plugin's)
State = Literal["deploying", "ready", "failed", "stopped"]

#: Deployment names become Kubernetes object names and URL path parts: DNS-1035 labels.
NAME_PATTERN = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
MODEL_URI_PATTERN = re.compile(
    r"^models:/(?P<name>[^/@]+)(?:/(?P<version>\d+)|@(?P<alias>[\w-]+))$"
)


def check_name(name: str) -> str:
    """Validate a deployment name (lowercase letters, digits, '-'; starts with a letter)."""
    if not NAME_PATTERN.match(name or ""):
        raise InvalidInput(
            f"invalid deployment name {name!r}: use lowercase letters, digits and '-', "
            "start with a letter, at most 63 characters"
        )
    return name


def check_canary(percent: int | None) -> int | None:
    """Validate a canary share of traffic (1-99 percent, or None for a full rollout)."""
    if percent is None:
        return None
    if isinstance(percent, bool) or not isinstance(percent, int) or not 0 < percent < 100:
        raise InvalidInput(f"canary must be a whole percentage between 1 and 99, not {percent!r}")
    return percent


@dataclass(frozen=True)
class ModelRef:
    """A registered model version, resolved from ``models:/name@alias`` or ``models:/name/3``."""

    uri: str  # what the user asked for
    name: str
    version: str
    source: str  # the registry's source (models:/m-<id> or runs:/...)
    storage_uri: str  # where the artifacts really are (file://, s3://, gs://...)
    run_id: str = ""

    @staticmethod
    def parse(uri: str) -> tuple[str, str | None, str | None]:
        """``(name, version, alias)`` of a ``models:/`` URI; InvalidInput when malformed."""
        match = MODEL_URI_PATTERN.match(uri or "")
        if not match:
            raise InvalidInput(
                f"invalid model URI {uri!r}: use models:/<name>@<alias> or models:/<name>/<version>"
            )
        return match["name"], match["version"], match["alias"]


@dataclass
class Revision:
    """One model version serving under a deployment, with its share of traffic."""

    model: ModelRef
    traffic: int = 100  # percent

    def to_json(self) -> dict[str, Any]:
        return {"traffic": self.traffic, **asdict(self.model)}

    def public_json(self) -> dict[str, Any]:
        """What clients see: the record without where the artifacts are stored."""
        return {k: v for k, v in self.to_json().items() if k != "storage_uri"}


@dataclass
class Deployment:
    """A named deployment and everything a surface shows about it."""

    name: str
    owner: str
    target: Target
    stable: Revision
    canary: Revision | None = None
    previous: Revision | None = None  # what rollback returns to after a promote
    state: State = "deploying"
    endpoint: str = ""  # V2 base URL: POST {endpoint}/v2/models/{name}/infer
    message: str = ""
    #: The last rollout failed and what served before was restored (``message`` says why).
    reverted: bool = False
    created: float = 0.0
    updated: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)  # target-specific (pid, port, mode...)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "owner": self.owner,
            "target": self.target,
            "state": self.state,
            "endpoint": self.endpoint,
            "message": self.message,
            "reverted": self.reverted,
            "stable": self.stable.to_json(),
            "canary": self.canary.to_json() if self.canary else None,
            "previous": self.previous.to_json() if self.previous else None,
            "created": self.created,
            "updated": self.updated,
            "details": self.details,
        }

    def public_json(self) -> dict[str, Any]:
        """What REST clients and kernels see: no storage location (it stays on the server)."""
        return self.to_json() | {
            "stable": self.stable.public_json(),
            "canary": self.canary.public_json() if self.canary else None,
            "previous": self.previous.public_json() if self.previous else None,
        }


@dataclass(frozen=True)
class DeployRequest:
    """What a surface asks the service for (REST body, magic arguments, dialog)."""

    model_uri: str
    name: str = ""  # default: derived from the model name
    target: Target | None = None  # default: MLPlat.deploy_target
    canary: int | None = None  # percent of traffic for the new version, None: replace it

    @classmethod
    def from_json(cls, body: Any) -> DeployRequest:
        if not isinstance(body, dict):
            raise InvalidInput("the request body must be a JSON object")
        unknown = set(body) - {"model_uri", "name", "target", "canary"}
        if unknown:
            raise InvalidInput(f"unknown field(s): {', '.join(sorted(unknown))}")
        uri = body.get("model_uri")
        if not isinstance(uri, str):
            raise InvalidInput("model_uri is required (models:/<name>@<alias>)")
        ModelRef.parse(uri)
        target = body.get("target")
        if target is not None and not isinstance(target, str):
            raise InvalidInput(f"target must be a deploy target's name, not {target!r}")
        name = body.get("name") or ""
        if not isinstance(name, str):
            raise InvalidInput("name must be a string")
        if name:
            check_name(name)
        return cls(uri, name, target, check_canary(body.get("canary")))
