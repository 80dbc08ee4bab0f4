"""Kernel provisioner that starts every local kernel inside the platform.

It gives the kernel the platform's environment (tracking server, experiment, ``MLP_*``
settings), removes secrets, and loads the ``%mlp`` extension into IPython kernels.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from jupyter_client.provisioning import LocalProvisioner

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.server import kernel_api
from jupyter_mlplat.spark.backends import backend_for
from jupyter_mlplat.tracking.settings import tracking_environment

PROVISIONER_NAME = "mlplat-provisioner"
EXTENSION_ARGUMENT = "--InteractiveShellApp.extra_extensions=jupyter_mlplat"


#: Flags pyspark sets in its own process once it has made a Connect session (the server's
#: catalog has one): a kernel inheriting them could no longer start a classic local session.
PROCESS_STATE_VARIABLES = {"SPARK_CONNECT_MODE_ENABLED"}


def kernel_environment(config: MLPlat, base: Mapping[str, str]) -> dict[str, str]:
    """The environment of a platform kernel, built from the server's ``base`` environment."""
    notebook = base.get("JPY_SESSION_NAME", "")
    hidden = config.server_only_variables() | PROCESS_STATE_VARIABLES
    env = {k: v for k, v in base.items() if k not in hidden and not config.is_secret(k)}
    env |= config.to_environment(for_kernel=True)
    env["MLP_NOTEBOOK_PATH"] = notebook
    # no MLP_LINEAGE_DIR: the kernel hands its OpenLineage events to the server (kernel API)
    env |= tracking_environment(config, notebook)
    env.pop("SPARK_REMOTE", None)  # a Livy URL, or Spark turned off: nothing pyspark can use
    env |= spark_environment(config)
    return env


def spark_environment(config: MLPlat) -> dict[str, str]:
    """``SPARK_REMOTE``: a user's own ``SparkSession.builder.getOrCreate()`` then attaches to the
    platform's Spark Connect server instead of starting a JVM inside the kernel."""
    if config.spark_mode in {"local", "connect"} and config.spark_remote:
        return {"SPARK_REMOTE": config.spark_remote}
    if config.spark_mode == "kubernetes":
        # the Service the Spark Operator gives the user's session (``spark`` creates it)
        from jupyter_mlplat.spark.kubernetes import CONNECT_PORT, resource_name

        service = f"{resource_name(config.resolved_user)}-server.{config.namespace}"
        return {"SPARK_REMOTE": f"sc://{service}.svc.cluster.local:{CONNECT_PORT}"}
    return {}


def is_ipython_kernel(argv: list[str]) -> bool:
    """Whether a kernelspec's command starts an ipykernel."""
    return any("ipykernel" in part for part in argv)


class MLPlatProvisioner(LocalProvisioner):
    """A local provisioner that starts kernels with the platform's environment."""

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        config = MLPlat(parent=self.parent)
        kwargs["env"] = kernel_environment(config, kwargs.get("env") or os.environ)
        # a Spark mode may need files in place for the kernel (e.g. sparkmagic's config)
        spark_hook = getattr(backend_for(config), "kernel_environment", None)
        if spark_hook is not None:
            kwargs["env"] |= spark_hook()
        # the server's scoped API for the magics: its URL and the token file's path, no secret
        if kernel_api.current is not None:
            kwargs["env"] |= kernel_api.current.kernel_environment()
        if is_ipython_kernel(self.kernel_spec.argv):
            extra = list(kwargs.get("extra_arguments") or [])
            if EXTENSION_ARGUMENT not in extra:
                extra.append(EXTENSION_ARGUMENT)
            kwargs["extra_arguments"] = extra
        return await super().pre_launch(**kwargs)
