"""``%mlp deploy models:/name@alias [--target local|kserve] [--canary N] [--name NAME]``.

Calls the Jupyter server's deploy API (the same call as the lab's deploy button), shows a
progress bar updated in place until the deployment is ready or failed, then a summary with
the endpoint and an example V2 request.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from html import escape
from typing import Any

from IPython.core.error import UsageError

from jupyter_mlplat.kernel.commands import ArgumentParser
from jupyter_mlplat.kernel.platform_api import PlatformApi
from jupyter_mlplat.kernel.render import DONE, FAILED, RUNNING, progress_bar

POLL_SECONDS = 0.5


def parser() -> ArgumentParser:
    p = ArgumentParser("deploy")
    p.add_argument("model_uri", help="models:/<name>@<alias> or models:/<name>/<version>")
    p.add_argument(
        "--target",
        choices=["local", "kserve"],
        default=None,
        help="where to serve it (default: the platform's deploy target)",
    )
    p.add_argument(
        "--canary",
        type=int,
        default=None,
        metavar="PERCENT",
        help="add the new version to an existing deployment as a canary with this %% of "
        "the traffic (promote or rollback it next)",
    )
    p.add_argument("--name", default="", help="deployment name (default: from the model name)")
    p.add_argument("--no-wait", action="store_true", help="return once the rollout started")
    return p


def run(magics: Any, args: list[str], cell: str | None) -> Any:
    options = parser().parse_args(args)
    request: dict[str, Any] = {"model_uri": options.model_uri}
    if options.name:
        request["name"] = options.name
    if options.target:
        request["target"] = options.target
    if options.canary is not None:
        request["canary"] = options.canary
    api = PlatformApi()
    started = api.deploy(request)
    if options.no_wait:
        return DeploymentSummary(started)
    timeout = float(magics.mlplat.deploy_ready_timeout) + 120
    final = follow(api, started, timeout)
    if final["state"] == "failed" or final.get("reverted"):
        raise UsageError(f"%mlp deploy: {final['name']}: {final['message']}")
    return DeploymentSummary(final)


def change(magics: Any, command: str, args: list[str]) -> Any:
    """``%mlp promote|rollback NAME``: start the change, follow it, show the result."""
    name = name_parser(command).parse_args(args).name
    api = PlatformApi()
    started = api.promote(name) if command == "promote" else api.rollback(name)
    final = follow(api, started, float(magics.mlplat.deploy_ready_timeout) + 120)
    if final["state"] == "failed" or final.get("reverted"):
        raise UsageError(f"%mlp {command}: {name}: {final['message']}")
    return DeploymentSummary(final)


def name_parser(command: str) -> ArgumentParser:
    """The arguments of ``%mlp promote|rollback|undeploy``: one deployment name."""
    p = ArgumentParser(command)
    p.add_argument("name", help="the deployment's name (see %%mlp deployments)")
    return p


def follow(api: PlatformApi, deployment: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Poll the deployment until it leaves ``deploying``, with a live progress bar."""
    from IPython.display import display

    bar = ProgressBar(deployment["name"])
    handle = display(bar.render(deployment), display_id=True)
    deadline = time.monotonic() + timeout
    try:
        while deployment["state"] == "deploying":
            if time.monotonic() > deadline:
                raise UsageError(
                    f"%mlp deploy: {deployment['name']} still deploying after {timeout:.0f} s "
                    "(see %mlp deployments)"
                )
            time.sleep(POLL_SECONDS)
            deployment = api.deployment(deployment["name"])
            if handle is not None:
                handle.update(bar.render(deployment))
    except KeyboardInterrupt:
        raise UsageError(
            f"stopped waiting; {deployment['name']} keeps deploying on the server "
            "(see %mlp deployments)"
        ) from None
    if handle is not None:
        handle.update(bar.render(deployment))
    return deployment


@dataclass
class ProgressBar:
    """A deploy progress bar (HTML), fed with the record's ``details.progress``."""

    name: str
    started: float = 0.0

    def render(self, deployment: dict[str, Any]) -> Any:
        from IPython.display import HTML

        self.started = self.started or time.monotonic()
        progress = (deployment.get("details") or {}).get("progress") or {}
        fraction = float(progress.get("fraction", 0.0))
        step = str(progress.get("step", deployment["state"]))
        state = deployment["state"]
        if state != "deploying":
            fraction = 1.0
            step = deployment.get("message") or state if state == "failed" else state
        colour = {"ready": DONE, "failed": FAILED}.get(state, RUNNING)
        elapsed = time.monotonic() - self.started
        text = f"deploy {self.name}: {step} · {elapsed:.0f} s"
        return HTML(progress_bar("deploy", fraction, text, colour))


def revision_text(revision: dict[str, Any] | None) -> str:
    if not revision:
        return ""
    return f"{revision['name']} v{revision['version']} ({revision['traffic']}%)"


def example_request(deployment: dict[str, Any]) -> str:
    """A V2 inference call in Python (columns as the model's signature names them)."""
    url = f"{deployment['endpoint']}/v2/models/{deployment['name']}/infer"
    body = {
        "parameters": {"content_type": "pd"},
        "inputs": [{"name": "<column>", "shape": [1], "datatype": "FP64", "data": [0.0]}],
    }
    return (
        "import requests\n"
        f"requests.post({url!r},\n"
        f"              json={json.dumps(body)}).json()['outputs']\n"
        f"# inputs and outputs: GET {deployment['endpoint']}/v2/models/{deployment['name']}"
    )


@dataclass
class DeploymentSummary:
    """One deployment: versions, traffic, endpoint and how to call it."""

    deployment: dict[str, Any]

    def rows(self) -> list[tuple[str, str]]:
        d = self.deployment
        rows = [
            ("state", d["state"]),
            ("target", d["target"]),
            ("stable", revision_text(d["stable"])),
        ]
        if d.get("canary"):
            rows.append(("canary", revision_text(d["canary"])))
        if d.get("previous"):
            rows.append(("previous", revision_text(d["previous"])))
        rows.append(("endpoint", d["endpoint"] or "(not serving)"))
        if d.get("message"):
            rows.append(("note", d["message"]))
        return rows

    def __repr__(self) -> str:
        lines = [f"Deployment {self.deployment['name']}"]
        lines += [f"  {label:<9} {value}" for label, value in self.rows()]
        if self.deployment["endpoint"]:
            lines += ["", example_request(self.deployment)]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            f'<tr><td style="text-align:left;padding-right:12px">{escape(label)}</td>'
            f'<td style="text-align:left"><code>{escape(value)}</code></td></tr>'
            for label, value in self.rows()
        )
        example = ""
        if self.deployment["endpoint"]:
            example = f"<pre>{escape(example_request(self.deployment))}</pre>"
        return (
            '<div class="mlplat-deployment">'
            f"<strong>Deployment {escape(self.deployment['name'])}</strong>"
            f'<table style="border-collapse:collapse">{rows}</table>{example}</div>'
        )
