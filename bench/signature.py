"""Signature sets: the few networks a new phone measures for collaborative prediction."""

from __future__ import annotations

import json
from pathlib import Path

from dnncost.errors import InputError
from dnncost.records import Network


def signature_file(path: str | Path) -> Path:
    """``FILE`` itself, or ``MODEL_DIR/signature.json`` for a model directory."""
    path = Path(path)
    return path / "signature.json" if path.is_dir() else path


def read_signature(path: str | Path) -> list[str]:
    """Network ids or names of a signature set.

    Accepts ``{"networks": [{"id": .., "name": ..}, ...]}`` or a plain list of names.
    """
    file = signature_file(path)
    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"signature set {file} cannot be read ({exc}): pass a signature.json "
                         "or the model directory that `dnncost train` wrote") from None
    entries = data.get("networks") if isinstance(data, dict) else data
    if not isinstance(entries, list) or not entries:
        raise InputError(f"signature set {file} has no networks: expected "
                         '{"networks": [{"id": .., "name": ..}]} or a list of names')
    keys = []
    for entry in entries:
        key = entry.get("name") or entry.get("id") if isinstance(entry, dict) else entry
        if not isinstance(key, str):
            raise InputError(f"signature set {file}: entry {entry!r} has no name or id")
        keys.append(key)
    return keys


def select(networks: list[Network], keys: list[str], source: str) -> list[Network]:
    """The networks whose name or id is in ``keys``; unknown keys are an error."""
    by_key = {n.name: n for n in networks} | {n.id: n for n in networks}
    missing = [k for k in keys if k not in by_key]
    if missing:
        raise InputError(f"signature set {source} names networks the store lacks "
                         f"({', '.join(missing[:5])}): generate or import them first")
    chosen = {by_key[k].id: by_key[k] for k in keys}
    return list(chosen.values())
