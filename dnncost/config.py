"""Optional defaults the user sets once, in ``dnncost.toml``; command-line options win.

The file is looked up as ``$DNNCOST_CONFIG``, else ``./dnncost.toml``. Top-level keys
apply to every command that has that option (``store = "phones.sqlite"``); a table
named after a command sets that command's options::

    store = "data/phones.sqlite"

    [bench]
    adb = ["10.0.0.5:5037"]
    runs = 50

Keys are the options' long names (``adb``, ``local-profile`` or ``local_profile``); each
value is checked as the option checks its command-line value.
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
    commands = set(group.list_commands(None))  # type: ignore[arg-type]
    unknown = sorted(set(config) - set(_GLOBAL_KEYS) - commands)
    if unknown:
        raise InputError(f"config has unknown top-level key(s) {', '.join(unknown)}: use "
                         f"{', '.join(_GLOBAL_KEYS)} or a [command] table")
    shared = {param: config[key] for key, param in _GLOBAL_KEYS.items() if key in config}
    return _walk(group, config, shared)


def _spellings(command: click.Command) -> dict[str, click.Parameter]:
    """Each way a config key may name a parameter of ``command``: its name and, for an
    option, its long flags without dashes (``-`` or ``_`` between words)."""
    names: dict[str, click.Parameter] = {}
    for param in command.params:
        names[str(param.name)] = param
        for flag in param.opts + param.secondary_opts if isinstance(param, click.Option) else ():
            if flag.startswith("--"):
                names[flag[2:]] = names[flag[2:].replace("-", "_")] = param
    return names


def _checked(where: str, param: click.Parameter, value: Any) -> Any:
    """``value`` as the option would take it from the command line, else InputError."""
    many = param.multiple or (param.nargs != 1)
    if many != isinstance(value, list) or isinstance(value, dict):
        raise InputError(f"config {where}: {value!r} must be "
                         f"{'a list' if many else 'one value'}: see its --help")
    try:
        for item in value if many else [value]:
            if isinstance(item, (list, dict)) or isinstance(param.type, (click.File, click.Path)) \
                    and not isinstance(item, str):  # click.Path takes an int as a descriptor
                raise TypeError
            if not isinstance(param.type, click.File):  # that would open it
                param.type.convert(item, param, None)
    except (click.BadParameter, TypeError, ValueError) as exc:
        detail = exc.format_message().rstrip(".") if isinstance(exc, click.BadParameter) else \
            f"{value!r} is not a {param.type.name}"
        raise InputError(f"config {where}: {detail}: fix the value") from None
    return value


def _walk(group: click.Group, sections: dict[str, Any], shared: dict[str, Any],
          path: str = "") -> dict:
    mapping: dict[str, Any] = {}
    for name in group.list_commands(None):  # type: ignore[arg-type]
        command = group.get_command(None, name)  # type: ignore[arg-type]
        section = sections.get(name)
        section = section if isinstance(section, dict) else {}
        where = f"{path}{name}"  # as written: [data.info], `dnncost data info`
        if isinstance(command, click.Group):
            subcommands = set(command.list_commands(None))  # type: ignore[arg-type]
            unknown = sorted(set(section) - subcommands - set(_GLOBAL_KEYS))
            if unknown:
                raise InputError(f"config [{where}] has unknown key(s) {', '.join(unknown)}: "
                                 f"use {', '.join(_GLOBAL_KEYS)} or a [{where}.command] table")
            inner = shared | {param: section[key] for key, param in _GLOBAL_KEYS.items()
                              if key in section}
            entry = _walk(command, section, inner, f"{where}.")
        else:
            spellings = _spellings(command)
            spellings.update({key: spellings[param] for key, param in _GLOBAL_KEYS.items()
                              if param in spellings})
            unknown = sorted(set(section) - set(spellings))
            if unknown:
                raise InputError(f"config [{where}] has unknown option(s) "
                                 f"{', '.join(unknown)}: see `dnncost {where.replace('.', ' ')} "
                                 "--help`")
            given = {str(spellings[k].name): _checked(f"[{where}] {k}", spellings[k], v)
                     for k, v in section.items()}
            top = {param: key for key, param in _GLOBAL_KEYS.items()}
            entry = {k: _checked(top[k], spellings[k], v) for k, v in shared.items()
                     if k in spellings} | given
        if entry:
            mapping[name] = entry
    return mapping
