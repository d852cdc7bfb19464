"""One error root for everything dnncost raises on purpose.

The CLI turns any :class:`DnncostError` into a one-line message and exit status 2.
Each message names the thing that is wrong and what to do about it.
"""


class DnncostError(Exception):
    """Root of all errors dnncost raises deliberately."""


class InputError(DnncostError):
    """A file, option or value given by the user is missing or malformed."""


class StoreError(DnncostError):
    """The dataset store cannot be opened, read or written."""


class DeviceError(DnncostError):
    """A device is unknown, unreachable or disappeared."""


class ToolError(DnncostError):
    """An external tool (benchmark_model, converter) failed or printed garbage."""


class ModelError(DnncostError):
    """A cost model cannot be trained, loaded, adapted or exported."""


MAX_QUOTED = 100  # characters of user input a message quotes


def shown(value: object, limit: int = MAX_QUOTED) -> str:
    """User input as a message quotes it: at most ``limit`` characters."""
    text = str(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."
