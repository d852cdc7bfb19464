"""dnncost: predict how fast a neural network runs on a phone before running it there."""

__version__ = "0.3.1"

from dnncost.errors import DnncostError  # noqa: E402

__all__ = ["DnncostError", "__version__"]
