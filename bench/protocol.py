"""The run protocol as pure functions: config, core mask, command line, order, drift.

Nothing here talks to a device; :mod:`dnncost.bench.android` and
:mod:`dnncost.bench.local` run what these functions describe.
"""

from __future__ import annotations

import math
import random
import re
import shlex
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from dnncost.errors import InputError

DELEGATES = ("cpu", "xnnpack", "gpu", "nnapi")
PRECISIONS = ("int8", "fp32")
WORKDIR = "/data/local/tmp/dnncost"
LOOP_MARK = "__dnncost_loop__"
LOOP_PROBE = "-"  # a loop line that reads the thermal zones only
_DELEGATE_FLAGS = {
    "cpu": ("--use_xnnpack=false",),
    "xnnpack": ("--use_xnnpack=true",),
    "gpu": ("--use_gpu=true",),
    "nnapi": ("--use_nnapi=true",),
}


@dataclass(frozen=True)
class RunConfig:
    """How each network is run: the paper's protocol by default (1 thread, big core)."""

    threads: int = 1
    core_mask: str = "big"  # "big": one biggest core; "all": no pinning; else a hex mask
    delegate: str = "cpu"
    precision: str = "int8"
    warmup_runs: int = 5
    runs: int = 30
    timeout_s: float = 600.0

    def __post_init__(self) -> None:
        if self.delegate not in DELEGATES:
            raise InputError(f"unknown delegate {self.delegate!r}: use one of "
                             f"{', '.join(DELEGATES)}")
        if self.precision not in PRECISIONS:
            raise InputError(f"unknown precision {self.precision!r}: use int8 or fp32")
        if self.threads < 1 or self.runs < 1 or self.warmup_runs < 0:
            raise InputError("--threads and --runs must be >= 1 and --warmup-runs >= 0")
        if self.core_mask not in ("big", "all") and not re.fullmatch(r"[0-9a-fA-F]+",
                                                                      self.core_mask):
            raise InputError(f"core mask {self.core_mask!r} is not hex (e.g. 80), big or all")

    @property
    def file_format(self) -> str:
        """The network file format this config runs (``tflite-int8``, ``tflite-fp32``)."""
        return f"tflite-{self.precision}"


def measurement_config(run: RunConfig, tool: str, tool_sha256: str | None,
                       **extra: Any) -> dict[str, Any]:
    """The measurement's config (hashed into its key): protocol, tool and its sha256."""
    config = {"tool": tool, "tool_sha256": tool_sha256, "threads": run.threads,
              "core_mask": run.core_mask, "delegate": run.delegate,
              "precision": run.precision, "warmup_runs": run.warmup_runs, "runs": run.runs}
    config.update(extra)
    return config


def big_core_mask(max_freq_mhz: Sequence[float], cores: int = 1) -> str:
    """Hex taskset mask of the ``cores`` fastest cores (ties go to the highest index)."""
    if not max_freq_mhz:
        return "1"
    ranked = sorted(range(len(max_freq_mhz)), key=lambda i: (max_freq_mhz[i], i), reverse=True)
    return format(sum(1 << i for i in ranked[:cores]), "x")


def pin_mask(run: RunConfig, max_freq_mhz: Sequence[float]) -> str | None:
    """The concrete mask for this device, or None for no pinning."""
    if run.core_mask == "all":
        return None
    if run.core_mask == "big":
        return big_core_mask(max_freq_mhz, run.threads)
    return run.core_mask.lower()


def _tool_words(binary: str, graph_arg: str, run: RunConfig, mask: str | None) -> str:
    """The tool's command words, shell-quoted, except ``graph_arg`` (inserted as given)."""
    pinned = ["timeout", "-s", "KILL", str(max(1, math.ceil(run.timeout_s)))] + (
        ["taskset", mask] if mask else []) + [f"./{binary}"]
    flags = [f"--num_threads={run.threads}", f"--warmup_runs={run.warmup_runs}",
             "--warmup_min_secs=0", f"--num_runs={run.runs}", "--min_secs=0",
             f"--max_secs={int(run.timeout_s)}", *_DELEGATE_FLAGS[run.delegate]]
    return " ".join([*map(shlex.quote, pinned), graph_arg, *map(shlex.quote, flags)])


# When the host's stream closes (a cable pulled, a sweep killed), adbd sends SIGHUP to the
# shell alone; the tool under `timeout` would run on, beside the run retried after the
# reconnect. So the tool runs in the background while the shell waits for it, and the
# shell's trap kills it before the shell exits: timeout's child, then timeout's process
# group (toybox and GNU timeout lead one of their own), or timeout alone where it leads
# none. A signal between the fork and ``p=$!`` (microseconds) still misses the run.
_HANGUP_TRAP = ("trap '[ -n \"$p\" ] && { pkill -KILL -P $p; kill -KILL -$p || kill -KILL $p; "
                "} 2>/dev/null; exit 129' HUP PIPE TERM")


def benchmark_command(binary: str, model: str, run: RunConfig, mask: str | None) -> str:
    """Shell command running ``binary`` on ``model`` (under WORKDIR), killed past the timeout
    or when the host's stream closes."""
    tool = _tool_words(binary, shlex.quote(f"--graph={model}"), run, mask)
    return f"cd {WORKDIR} && {{ p=; {_HANGUP_TRAP}; {tool} & p=$!; wait $p; }}"


def run_loop_script(binary: str, run: RunConfig, mask: str | None, before_run: str) -> str:
    """A device shell loop that runs ``binary`` once per model path read from stdin.

    It prints ``LOOP_MARK ready`` once; then, per path (relative to WORKDIR), what
    ``before_run`` prints (the thermal zones), ``LOOP_MARK start``, the tool's output
    (stdout and stderr merged, in order), a newline and ``LOOP_MARK exit CODE``. The
    line ``LOOP_PROBE`` runs ``before_run`` alone (exit 0, no output): a temperature
    read without a round trip of its own. :class:`LoopReader` takes the stream apart.
    """
    tool = _tool_words(binary, '"--graph=$m"', run, mask)
    return (f"cd {WORKDIR} && p= && {_HANGUP_TRAP} && echo {LOOP_MARK} ready && "
            f"while IFS= read -r m; do {before_run}; echo {LOOP_MARK} start; r=0; "
            f"if [ \"$m\" != {LOOP_PROBE} ]; then {tool} </dev/null 2>&1 & p=$!; wait $p; "
            f"r=$?; p=; fi; echo; echo {LOOP_MARK} exit $r; done")


@dataclass(frozen=True)
class LoopResult:
    """One run of the loop: what ``before_run`` printed, the tool's output, its exit code."""

    before: str
    output: str
    exit_code: int


class LoopReader:
    """Splits the run loop's stdout into :class:`LoopResult` as bytes arrive (no I/O)."""

    _READY = f"{LOOP_MARK} ready\n".encode()
    _START = f"{LOOP_MARK} start\n".encode()
    _EXIT = re.compile(rb"\n" + LOOP_MARK.encode() + rb" exit (\d+)\n")

    def __init__(self) -> None:
        self.ready = False
        self._buffer = b""

    def feed(self, data: bytes) -> list[LoopResult]:
        """The runs completed by ``data`` (none while a run is still printing)."""
        self._buffer += data
        if not self.ready:
            _, sep, rest = self._buffer.partition(self._READY)
            if not sep:
                return []
            self.ready, self._buffer = True, rest
        results = []
        while True:
            before, sep, rest = self._buffer.partition(self._START)
            end = self._EXIT.search(rest) if sep else None
            if end is None:
                return results
            results.append(LoopResult(before.decode(errors="replace"),
                                      rest[:end.start()].decode(errors="replace"),
                                      int(end.group(1))))
            self._buffer = rest[end.end():]


def shuffled(network_ids: Iterable[str], seed: int, device_id: str) -> list[str]:
    """A seeded order per device, so a device's state never lines up with network size."""
    ordered = sorted(network_ids)
    random.Random(f"{seed}/{device_id}").shuffle(ordered)
    return ordered


def drifted(reference_ms: float | None, current_ms: float | None, tolerance: float) -> bool:
    """True when the canary moved by more than ``tolerance`` (a fraction) of its reference."""
    if reference_ms is None or current_ms is None or reference_ms <= 0:
        return False
    return abs(current_ms - reference_ms) / reference_ms > tolerance


def sanitize_id(text: str) -> str:
    """A device id from free text: letters, digits, ``.``, ``_``, ``-`` only."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "device"


def parse_getprop(text: str) -> dict[str, str]:
    """``getprop`` output (``[key]: [value]`` lines) as a dict."""
    return dict(re.findall(r"^\[([^\]]+)\]:\s*\[(.*)\]\s*$", text, re.MULTILINE))


def parse_meminfo_mb(text: str) -> float | None:
    """MemTotal of ``/proc/meminfo`` in MB."""
    match = re.search(r"^MemTotal:\s*(\d+)\s*kB", text, re.MULTILINE)
    return int(match.group(1)) / 1024.0 if match else None


def temperature_c(raw: str) -> float | None:
    """A thermal zone or battery reading in degrees C (millidegrees and tenths scaled)."""
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    if abs(value) >= 1000:
        return value / 1000.0
    if abs(value) >= 150:
        return value / 10.0
    return value
