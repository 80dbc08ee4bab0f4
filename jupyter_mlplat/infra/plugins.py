"""Backends chosen by configuration, one way for every kind (Spark, deploy targets, catalogs).

Each kind has an abstract base class (a :class:`Backend` subclass) that declares what a backend
provides. A configuration value names the backend:

- a built-in name (``local``, ``kubernetes``, ``kserve``...: ``config.BUILTIN_BACKENDS``),
- the name of an entry point in the kind's group (``jupyter_mlplat.<kind>_backends``), which is
  how another package adds a backend, or
- an import path ``package.module:Class``.

Built-in names are resolved without scanning entry points: that scan costs 15-30 ms, which a
kernel must not pay at start. The class is imported only when its backend is first used.
"""

from __future__ import annotations

import functools
import importlib
from abc import ABC
from typing import Any, ClassVar, TypeVar

from jupyter_mlplat.config import BUILTIN_BACKENDS, MLPlat, backend_entry_points
from jupyter_mlplat.errors import InvalidInput

B = TypeVar("B", bound="Backend")


class Backend(ABC):  # noqa: B024 (the kinds below declare the abstract methods)
    """Base of every pluggable backend; constructed as ``Class(config)``."""

    #: The kind: names the entry-point group ``jupyter_mlplat.<kind>_backends``.
    kind: ClassVar[str] = ""
    #: What a configured name is called in messages ("deploy target", "Spark mode"...).
    noun: ClassVar[str] = "backend"
    #: The name this backend is configured by (what status surfaces show).
    name: str = ""

    def __init__(self, config: MLPlat) -> None:
        self.config = config

    @classmethod
    def resolve(cls: type[B], name: str) -> type[B]:
        """The backend class configured as ``name``; one clear line when there is none."""
        return _resolve(cls, name)

    @classmethod
    def create(cls: type[B], name: str, config: MLPlat) -> B:
        """A new backend of the class configured as ``name``."""
        return cls.resolve(name)(config)

    @classmethod
    def available(cls) -> list[str]:
        """Every name this kind resolves: built-in ones and installed entry points."""
        entry_points = backend_entry_points(cls.kind)
        return sorted({*BUILTIN_BACKENDS[cls.kind], *(ep.name for ep in entry_points)})


@functools.cache
def _resolve(base: type[Any], name: str) -> type[Any]:
    target = BUILTIN_BACKENDS[base.kind].get(name)
    if target is None and ":" in name:
        target = name
    if target is not None:
        module, _, attribute = target.partition(":")
        try:
            found = getattr(importlib.import_module(module), attribute)
        except (ImportError, AttributeError) as err:
            raise InvalidInput(f"cannot load the {base.noun} {name!r}: {err}") from err
    else:
        entry = next((ep for ep in backend_entry_points(base.kind) if ep.name == name), None)
        if entry is None:
            raise InvalidInput(
                f"unknown {base.noun} {name!r} (available: {', '.join(base.available())})"
            )
        found = entry.load()
    if not (isinstance(found, type) and issubclass(found, base)):
        raise InvalidInput(f"the {base.noun} {name!r} is not a {base.__name__}")
    return found
