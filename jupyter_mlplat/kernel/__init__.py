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
    from jupyter_mlplat.tracking.session import end_run_before_restart, on_import

    config = MLPlat()
    shell.register_magics(MLPMagics(shell, config=config))
    if config.tracking_uri:
        when_imported(config.autolog_triggers, on_import(config))

    def before_cell(info: Any) -> None:
        notice = end_run_before_restart(info.raw_cell or "")
        if notice:
            print(notice)

    shell.events.register("pre_run_cell", before_cell)
