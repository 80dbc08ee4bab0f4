"""The ``jupyter_mlplat`` Jupyter server extension."""

from __future__ import annotations

from jupyter_client.provisioning import KernelProvisionerFactory
from jupyter_server.extension.application import ExtensionApp

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.server.handlers import ROUTES
from jupyter_mlplat.server.provisioner import PROVISIONER_NAME


class MLPlatApp(ExtensionApp):
    """Serves the platform's REST API and MLflow UI, and provisions every kernel."""

    name = "jupyter_mlplat"

    def initialize_settings(self) -> None:
        config = MLPlat(parent=self)
        self.settings["mlplat_config"] = config
        if config.inject_kernels and self.serverapp is not None:
            factory = KernelProvisionerFactory.instance(parent=self.serverapp.kernel_manager)
            if factory.default_provisioner_name == "local-provisioner":
                factory.default_provisioner_name = PROVISIONER_NAME
        self.log.info(
            "jupyter_mlplat: tracking %s, kernels %s",
            config.tracking_uri or "(not configured)",
            "provisioned" if config.inject_kernels else "untouched",
        )

    def initialize_handlers(self) -> None:
        self.handlers.extend(ROUTES)
