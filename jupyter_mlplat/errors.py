"""Errors the services raise; each surface maps them in one place (HTTP status, UsageError)."""

from __future__ import annotations


class MLPlatError(Exception):
    """Base of all platform errors; ``status`` is the HTTP status a REST surface answers with."""

    status = 500


class InvalidInput(MLPlatError):
    """The caller asked for something malformed."""

    status = 400


class NotFound(MLPlatError):
    """The named thing does not exist (or is not the caller's)."""

    status = 404


class Conflict(MLPlatError):
    """The request clashes with the current state (a name already taken...)."""

    status = 409


class Unavailable(MLPlatError):
    """A backing service (MLflow, Spark, Kubernetes) cannot be reached."""

    status = 503
