"""What the sweep needs from a device: the Runner protocol, its outcome, DeviceGone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from dnncost.errors import DeviceError
from dnncost.records import Device, Network, NetworkFile, RunStats


class DeviceGone(DeviceError):
    """The device disappeared (unplugged, connection reset): its work stays pending."""


@dataclass(frozen=True)
class Outcome:
    """One tool run: what it reported, its raw output, the host's wall time (s) and the
    device temperature read right before the tool started (when the runner reads it)."""

    parsed: RunStats
    raw_output: str | None
    wall_s: float
    temperature_c: float | None = None


class Runner(Protocol):
    """A device the sweep can measure on: a phone over adb or a local host profile."""

    device_id: str
    file_format: str

    def describe(self) -> Device:
        """The device record (also fixes ``device_id``)."""

    def setup(self, abi: str | None) -> dict[str, Any]:
        """Prepare the device; returns the measurement config."""

    def temperature_c(self) -> float | None:
        """The device temperature now, in degrees C, or None when unknown."""

    def measure(self, network: Network, file: NetworkFile) -> Outcome:
        """Run one network once; failures are an Outcome with an error, never a raise
        (except :class:`DeviceGone`)."""

    def close(self) -> None:
        """Release what the runs held open (the sweep is over); a no-op where nothing is."""
