"""Run a callback right after a module is first imported, without importing it ourselves.

This keeps kernel start free of heavy imports: MLflow is configured when the user (or a library)
imports it, not before.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

Callback = Callable[[ModuleType], None]


class _Loader(importlib.abc.Loader):
    def __init__(self, wrapped: Any, callback: Callback) -> None:
        self._wrapped = wrapped
        self._callback = callback

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._wrapped.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._wrapped.exec_module(module)
        module.__loader__ = self._wrapped  # hand the module back to its real loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._wrapped
        self._callback(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._wrapped, name)


class PostImportFinder(importlib.abc.MetaPathFinder):
    """A meta-path finder that calls ``callback(module)`` once a watched module is loaded."""

    def __init__(self, names: Sequence[str], callback: Callback) -> None:
        self.names = set(names)
        self.callback = callback
        self._resolving: set[str] = set()

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.names or fullname in self._resolving:
            return None
        self._resolving.add(fullname)
        try:
            spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
            for finder in sys.meta_path:
                if spec is not None:
                    break
                if finder is not self and hasattr(finder, "find_spec"):
                    spec = finder.find_spec(fullname, path, target)
        finally:
            self._resolving.discard(fullname)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        self.names.discard(fullname)
        spec.loader = _Loader(spec.loader, self.callback)
        return spec


def when_imported(names: Sequence[str], callback: Callback) -> PostImportFinder | None:
    """Call ``callback`` after the first of ``names`` is imported (at once if one already is)."""
    for name in names:
        if name in sys.modules:
            callback(sys.modules[name])
            return None
    finder = PostImportFinder(names, _once(callback))
    sys.meta_path.insert(0, finder)
    return finder


def _once(callback: Callback) -> Callback:
    done = False

    def call(module: ModuleType) -> None:
        nonlocal done
        if not done:
            done = True
            callback(module)

    return call
