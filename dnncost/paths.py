"""Where dnncost keeps files of its own, and file names made from ids."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path


def cache_dir() -> Path:
    """The user cache directory of dnncost: $XDG_CACHE_HOME/dnncost or ~/.cache/dnncost."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dnncost"


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_NAME = 80


def safe_name(identifier: str) -> str:
    """A file name for a device, network or config id: the id itself when it is already
    plain (letters, digits, ``.``, ``_``, ``-``, not ``.``/``..``, at most 80 long), else
    its plain characters plus 8 hex digits of its hash, so the mapping is stable and two
    ids never share a name. Every path dnncost makes from an id goes through this."""
    plain = _UNSAFE.sub("_", identifier)[:MAX_NAME].strip("._") or "id"
    if plain == identifier:
        return plain
    digest = hashlib.sha256(identifier.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{plain}-{digest}"
