"""The one Kubernetes module: names, owner labels (and, next, clients, errors and watches).

Every caller that talks to Kubernetes (Spark sessions, KServe, the spawner hooks) takes its
names and labels from here, so that the platform's objects look the same wherever they come from.
"""

from __future__ import annotations

import hashlib
import re

MANAGED_BY = {"app.kubernetes.io/managed-by": "jupyter-mlplat"}
USER_LABEL = "jupyter-mlplat/user"


def dns_label(text: str, max_length: int = 63) -> str:
    """Lower-case alphanumerics and dashes; a hash of the original keeps altered names unique."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    if slug == text and len(slug) <= max_length:
        return slug
    digest = hashlib.sha256(text.encode()).hexdigest()[:6]
    return f"{slug[: max_length - len(digest) - 1].rstrip('-')}-{digest}".lstrip("-")


def user_label(user: str) -> str:
    """The user as a label value (the same slug as in resource names)."""
    return dns_label(user, 63)


def owner_labels(user: str) -> dict[str, str]:
    """The labels every object the platform creates for ``user`` carries."""
    return {**MANAGED_BY, USER_LABEL: user_label(user)}
