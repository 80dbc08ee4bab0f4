"""Livy mode in a kernel: ``%%spark`` runs on the platform's Livy endpoint, no ``%spark add``.

A light ``%spark`` / ``%%spark`` magic is registered at kernel start; its first use imports
sparkmagic (seconds, and only in Livy mode; it comes with the ``livy`` extra), and before code
runs it opens the platform's session from the sparkmagic configuration the provisioner wrote
(endpoint, authentication, session settings). Every call then goes to sparkmagic's own magic.
"""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError

LIVY_EXTRA = "Livy mode needs the livy extra: pip install 'jupyter-mlplat[livy]'"
#: The session opened for ``%%spark`` cells (``%spark info`` lists it by this name).
SESSION = "mlplat"
#: sparkmagic's subcommands: they manage sessions and run no code, so they open none.
SUBCOMMANDS = {"info", "config", "add", "delete", "cleanup", "logs"}


class LivySpark:
    """The kernel's ``spark`` magic in Livy mode, in front of sparkmagic's."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self._magics: Any = None

    def register(self) -> None:
        def spark(line: str, cell: str | None = None, local_ns: Any = None) -> Any:
            return self.run(line, cell, local_ns)

        spark.__doc__ = "Spark on the platform's Livy endpoint (sparkmagic): %%spark cells."
        spark.needs_local_scope = True  # type: ignore[attr-defined]
        self.shell.register_magic_function(spark, "line_cell", "spark")
        self._function = spark

    def magics(self) -> Any:
        """sparkmagic's ``RemoteSparkMagics``, created on first use."""
        if self._magics is None:
            try:
                from sparkmagic.magics.remotesparkmagics import RemoteSparkMagics
            except ImportError:
                raise UsageError(LIVY_EXTRA) from None
            self._magics = RemoteSparkMagics(self.shell)
            self.shell.register_magics(self._magics)  # %manage_spark, and its own %spark...
            self.shell.register_magic_function(self._function, "line_cell", "spark")  # ...ours
        return self._magics

    def run(self, line: str, cell: str | None, local_ns: Any) -> Any:
        magics = self.magics()
        if self._runs_code(magics, line) and not magics.spark_controller.get_client_keys():
            self.open_session(magics)
        return magics.spark(line, cell or "", local_ns)

    @staticmethod
    def _runs_code(magics: Any, line: str) -> bool:
        from sparkmagic.utils.utils import parse_argstring_or_throw

        try:
            args = parse_argstring_or_throw(magics.spark, line)
        except Exception:
            return False  # sparkmagic reports the bad line itself
        command = (args.command or [""])[0]
        return command not in SUBCOMMANDS and args.session in (None, SESSION)

    @staticmethod
    def open_session(magics: Any) -> None:
        """Open the platform's Livy session, as sparkmagic's own Livy kernels do."""
        from sparkmagic.livyclientlib.endpoint import Endpoint
        from sparkmagic.utils import configuration as conf
        from sparkmagic.utils.utils import Namespace, initialize_auth

        credentials = conf.base64_kernel_python_credentials()
        if not credentials.get("url"):
            raise UsageError("no Livy endpoint is configured (MLP_SPARK_REMOTE)")
        login = Namespace(
            auth=credentials["auth"],
            user=credentials["username"],
            password=credentials["password"],
            url=credentials["url"],
        )
        endpoint = Endpoint(credentials["url"], initialize_auth(login))
        properties = conf.get_session_properties("python")
        try:
            magics.spark_controller.add_session(SESSION, endpoint, True, properties)
        except Exception as err:  # sparkmagic's HTTP and session errors: one line
            raise UsageError(
                f"could not start a Livy session at {credentials['url']}: {err}"
            ) from None
