"""The package version. Its one source is ``labextension/package.json``: the build reads it
(hatch-nodejs-version) into the package metadata, which this module reads back."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("jupyter-mlplat")
except PackageNotFoundError:  # a source tree on sys.path that was never installed
    __version__ = "0.0.0+unknown"
