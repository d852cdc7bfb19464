"""Optional defaults the user sets once, in ``dnncost.toml``; command-line options win.

The file is looked up as ``$DNNCOST_CONFIG``, else ``./dnncost.toml``. Top-level keys
apply to every command that has that option (``store = "phones.sqlite"``); a table
named after a command sets that command's options::

    store = "data/phones.sqlite"

    [bench]
    adb = ["10.0.0.5:5037"]
    runs = 50
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

import click

from dnncost.errors import InputError

CONFIG_FILE = "dnncost.toml"
# Top-level keys and the option (parameter) names they set on any command.
_GLOBAL_KEYS = {"store": "store_path"}


def config_path() -> Path | None:
    """The config file in effect, or None when there is none."""
    explicit = os.environ.get("DNNCOST_CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise InputError(f"DNNCOST_CONFIG={explicit} does not exist: fix or unset it")
        return path
    path = Path(CONFIG_FILE)
    return path if path.is_file() else None


def load_config(path: Path | None) -> dict[str, Any]:
    """Parse the TOML config file (empty when ``path`` is None)."""
    if path is None:
        return {}
    try:
        return tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid TOML ({exc}): fix the file") from None


def default_map(group: click.Group, config: dict[str, Any]) -> dict[str, Any]:
    """Click's ``default_map`` for ``group`` built from a parsed config."""
    if not config:  # no file: nothing to load (and no command module imported)
        return {}
    shared = {param: config[key] for key, param in _GLOBAL_KEYS.items() if key in config}
    return _walk(group, config, shared)


def _walk(group: click.Group, sections: dict[str, Any], shared: dict[str, Any]) -> dict:
    mapping: dict[str, Any] = {}
    for name in group.list_commands(None):  # type: ignore[arg-type]
        command = group.get_command(None, name)  # type: ignore[arg-type]
        section = sections.get(name)
        section = {_GLOBAL_KEYS.get(k, k): v for k, v in section.items()} \
            if isinstance(section, dict) else {}
        if isinstance(command, click.Group):
            entry = _walk(command, section, shared)
        else:
            params = {p.name for p in command.params}
            unknown = sorted(set(section) - params)
            if unknown:
                raise InputError(f"config [{name}] has unknown option(s) "
                                 f"{', '.join(unknown)}: see `dnncost {name} --help`")
            entry = {k: v for k, v in shared.items() if k in params} | section
        if entry:
            mapping[name] = entry
    return mapping
