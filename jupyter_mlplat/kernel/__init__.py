"""IPython extension loaded into every platform kernel: the ``%mlp`` magics and MLflow set-up.

Loading it must stay cheap: nothing heavy (mlflow, pyspark, great_expectations) is imported here.
"""

from __future__ import annotations

from typing import Any

from jupyter_mlplat.config import MLPlat


def load_ipython_extension(shell: Any) -> None:
    """Register ``%mlp`` and wire MLflow configuration to the first import of MLflow."""
    from jupyter_mlplat.kernel.import_hooks import when_imported
    from jupyter_mlplat.kernel.magics import MLPMagics
    from jupyter_mlplat.spark.session import LazySpark, SparkSessions, reattach_if_restarted
    from jupyter_mlplat.tracking.session import end_run_before_restart, on_import

    config = MLPlat()
    sessions = SparkSessions(config)
    shell.register_magics(MLPMagics(shell, config=config, spark=sessions))
    if config.tracking_uri:
        when_imported(config.autolog_triggers, on_import(config))
    if config.spark_mode not in {"none", "livy"} and "spark" not in shell.user_ns:
        shell.user_ns["spark"] = LazySpark(sessions, shell.user_ns)

    def before_cell(info: Any) -> None:
        cell = info.raw_cell or ""
        notice = end_run_before_restart(cell)
        if notice:
            print(notice)
        reattach_if_restarted(sessions, shell.user_ns, cell)

    shell.events.register("pre_run_cell", before_cell)
