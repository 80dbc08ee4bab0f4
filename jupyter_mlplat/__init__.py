"""jupyter-mlplat: a managed notebook environment for ML platforms.

Only extension entry points live here; importing this package stays cheap.
"""

from __future__ import annotations

from typing import Any

__all__ = ["__version__", "load_ipython_extension"]


def __getattr__(name: str) -> Any:
    # the version is read from the package metadata: only when asked (kernel start skips it)
    if name == "__version__":
        from jupyter_mlplat._version import __version__

        return __version__
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "jupyter-mlplat"}]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from jupyter_mlplat.server.app import MLPlatApp

    return [{"module": "jupyter_mlplat", "app": MLPlatApp}]


def load_ipython_extension(shell: Any) -> None:
    """``%load_ext jupyter_mlplat`` (done automatically in platform kernels)."""
    from jupyter_mlplat.kernel import load_ipython_extension as load

    load(shell)
