"""Files that hold secrets (tokens, passwords, URLs with tokens): private from their first byte."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def write_private(path: Path | str, text: str) -> Path:
    """Write ``text`` to ``path`` with mode 0600 and replace any previous file atomically.

    The content goes to a new file created 0600 (``O_EXCL``: never an existing file with wider
    permissions) next to ``path`` and is renamed over it, so that nobody ever sees the secret
    in a file readable by others, nor a half-written file.
    """
    target = Path(path)
    partial = target.with_name(f".{target.name}.{secrets.token_hex(4)}")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as out:
            out.write(text)
        partial.replace(target)
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise
    return target
