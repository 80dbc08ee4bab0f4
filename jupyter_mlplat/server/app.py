"""The ``jupyter_mlplat`` Jupyter server extension."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from jupyter_client.provisioning import KernelProvisionerFactory
from jupyter_server.extension.application import ExtensionApp
from tornado.ioloop import IOLoop, PeriodicCallback

from jupyter_mlplat.catalog.service import CatalogService
from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.deploy.registry import Registry
from jupyter_mlplat.deploy.service import DeployService
from jupyter_mlplat.errors import MLPlatError
from jupyter_mlplat.lineage.service import LineageService
from jupyter_mlplat.pipelines.service import PipelinesService
from jupyter_mlplat.reports.service import ReportsService
from jupyter_mlplat.search.service import SearchService
from jupyter_mlplat.server import kernel_api
from jupyter_mlplat.server.provisioner import PROVISIONER_NAME
from jupyter_mlplat.server.routes import ROUTES
from jupyter_mlplat.spark.backends import backend_for


def _training_pipelines(config: MLPlat, table: str) -> list[str]:
    from jupyter_mlplat.pipelines.templates import training_pipelines

    return training_pipelines(config, table)


class MLPlatApp(ExtensionApp):
    """Serves the platform's REST API and MLflow UI, and provisions every kernel."""

    name = "jupyter_mlplat"

    def initialize_settings(self) -> None:
        config = MLPlat(parent=self)
        self.mlplat = config
        self.executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="mlplat")
        self.catalog = CatalogService.from_config(config)
        self.spark_backend = backend_for(config)
        self.deploy = DeployService(config)
        self.pipelines = PipelinesService.from_config(config)
        self.reports = ReportsService(config)
        self.search = SearchService(
            config,
            catalog=self.catalog,
            reports=self.reports,
            deploy=self.deploy,
            pipelines=self.pipelines,
        )
        # a table the catalog sees change sends the asset event of table-triggered pipelines
        self.catalog.table_observers.append(self.pipelines.table_observer())
        runtime_dir = Path(self.serverapp.runtime_dir) if self.serverapp else Path.cwd()
        self.kernel_api = kernel_api.KernelApi.create(runtime_dir, self.serverapp)
        kernel_api.current = self.kernel_api
        self.settings.update(
            mlplat_config=config,
            mlplat_executor=self.executor,
            mlplat_catalog=self.catalog,
            mlplat_spark=self.spark_backend,
            mlplat_deploy=self.deploy,
            mlplat_pipelines=self.pipelines,
            mlplat_registry=Registry(config),
            mlplat_lineage=LineageService(
                config,
                current=self.catalog.snapshot,
                deployments=self.deploy.list,
                pipelines=lambda table: _training_pipelines(config, table),
            ),
            mlplat_reports=self.reports,
            mlplat_search=self.search,
            mlplat_kernel_api=self.kernel_api,
        )
        if config.inject_kernels and self.serverapp is not None:
            factory = KernelProvisionerFactory.instance(parent=self.serverapp.kernel_manager)
            if factory.default_provisioner_name == "local-provisioner":
                factory.default_provisioner_name = PROVISIONER_NAME
        if config.catalog_refresh_seconds > 0:
            self._refresher = PeriodicCallback(
                self._refresh_catalog, config.catalog_refresh_seconds * 1000
            )
            self._refresher.start()
        # the search index syncs from MLflow in its own thread (once now, then every few seconds)
        try:
            self.search.start_sync(self.log)
        except MLPlatError as err:  # e.g. its PostgreSQL is down: MLflow's search answers
            self.log.warning("jupyter_mlplat: the search index is off: %s", err)
        # the server's loop is not running yet: restore once it is
        IOLoop.current().add_callback(self._restore_deployments)
        self.log.info(
            "jupyter_mlplat: tracking %s, spark %s, kernels %s",
            config.tracking_uri or "(not configured)",
            config.spark_mode,
            "provisioned" if config.inject_kernels else "untouched",
        )

    def _refresh_catalog(self) -> None:
        # the same background job as the panel's refresh button (joins one already running)
        self.catalog.start_refresh()

    async def _restore_deployments(self) -> None:
        # local model servers outlive the Jupyter server: re-attach (or restart) them
        try:
            restored = await asyncio.get_running_loop().run_in_executor(
                self.executor, self.deploy.restore
            )
        except Exception as err:
            self.log.warning("jupyter_mlplat: restoring deployments failed: %s", err)
            return
        if restored:
            self.log.info("jupyter_mlplat: %d deployment(s) restored", len(restored))

    def initialize_handlers(self) -> None:
        self.handlers.extend(ROUTES)

    async def stop_extension(self) -> None:
        """Release Spark sessions and delete what the Spark backend created."""
        loop = asyncio.get_running_loop()
        releases = (self.catalog.close, self.spark_backend.shutdown, self.reports.close,
                    self.search.close)  # fmt: skip
        for release in releases:
            try:
                await loop.run_in_executor(self.executor, release)
            except Exception as err:
                self.log.warning("jupyter_mlplat: %s failed at shutdown: %s", release, err)
        # deployed model servers keep serving (`mlplat stop` / undeploy stop them)
        self.kernel_api.close()
        self.executor.shutdown(wait=False)
