"""`dnncost gen`: sample specs, convert them to .tflite in worker processes, register
networks, files and layer tables in the store. Asking again does no work twice.

Model files are named by the spec id (the hash of the spec's canonical form) and
precision, ``<out_dir>/<spec id>.<precision>.tflite``, and written atomically (temp
file + os.replace), so a killed run leaves no half file. The builder writes the
flatbuffer directly (gen/tflite_build.py, no TensorFlow) where it writes every op of a
spec, and asks TensorFlow's converter (gen/tf_build.py, the reference) otherwise or when
told (``builder="tf"``); either runs in the spawned workers, never in the calling
process.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable, Sequence, TypeVar

from dnncost.artifacts import write_atomic
from dnncost.errors import InputError, ToolError
from dnncost.gen.layers import layer_table, total_macs, total_params
from dnncost.gen.archs import NAME_PREFIXES, arch_of_name
from dnncost.gen.spaces import ARCH_SPACES, FIXED_SPACES, arch_networks, sample_specs
from dnncost.gen.spec import NetworkSpec, parse_spec, spec_id
from dnncost.records import Layer, Network, NetworkFile, sha256_file
from dnncost.store import Store

PRECISIONS: tuple[str, ...] = ("fp32", "int8")
BUILDERS: tuple[str, ...] = ("direct", "tf")
DEFAULT_OUT = "data/models"
T = TypeVar("T")


@dataclass(frozen=True)
class GenSummary:
    """What a `gen` run asked for and did."""

    space: str
    networks: int  # networks registered (requested count)
    converted: int  # networks that needed a conversion in this run
    files_written: int
    out_dir: str


def model_path(out_dir: str | Path, identity: str, precision: str) -> Path:
    """Where the model file of a spec id and precision lives."""
    return Path(out_dir) / f"{identity}.{precision}.tflite"


def network_name(space: str, identity: str) -> str:
    """Readable unique network name: ``<space>-<first 8 hex of the id>``."""
    return f"{space}-{identity[:8]}"


def weight_seed(identity: str) -> int:
    """Seed of a network's random weights and calibration data, from its spec id."""
    return int(identity[:8], 16)


def _check_writable(out_dir: Path) -> None:
    probe = out_dir / f".dnncost-probe-{os.getpid()}"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise InputError(f"output directory {out_dir} is not writable ({exc.strerror}): "
                         "pass another --out DIR") from None


def build_tflite(spec: NetworkSpec, precisions: tuple[str, ...], seed: int,
                 builder: str = "direct") -> dict[str, bytes]:
    """{precision: .tflite bytes} of ``spec``: written directly, or (``builder="tf"``, or
    a spec the direct builder does not write) by TensorFlow's converter."""
    if builder == "direct":
        from dnncost.gen import tflite_build

        if tflite_build.unsupported(spec) is None:
            return tflite_build.spec_to_tflite(spec, precisions, seed)
    from dnncost.gen.tf_build import spec_to_tflite

    try:  # tf_build imports TensorFlow inside its functions
        return spec_to_tflite(spec, precisions, seed)
    except ImportError as exc:
        raise ToolError(f"converting {spec.to_string()[:60]} needs TensorFlow ({exc}): "
                        "pip install tensorflow-cpu") from None


def convert_job(spec_text: str, identity: str, precisions: tuple[str, ...], out_dir: str,
                builder: str = "direct") -> dict[str, str]:
    """Worker: build one spec, write its .tflite files; {precision: sha256}."""
    written = {}
    for precision, data in build_tflite(parse_spec(spec_text), precisions,
                                        weight_seed(identity), builder).items():
        path = model_path(out_dir, identity, precision)
        write_atomic(path, data)
        written[precision] = sha256_file(str(path))
    return written


def _die_with(parent: int) -> None:
    """End this worker when ``parent`` (the gen process) ends, however it ends: Linux's
    parent-death signal, and a watch on the parent pid where that is not to be had."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # it ended before we could ask
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def _worker_init(threads: int, verbose: bool, parent: int) -> None:
    _die_with(parent)
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if not verbose:  # TensorFlow's C++ logs go straight to the file descriptors
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)


def _needed(store: Store, identity: str, precisions: tuple[str, ...], out_dir: Path
            ) -> tuple[list[str], dict[str, str]]:
    """Precisions still to convert, and sha256 of the files that can be kept."""
    recorded = store.file_digests(identity)
    needed, kept = [], {}
    for precision in precisions:
        path = model_path(out_dir, identity, precision)
        digest = sha256_file(str(path)) if path.exists() else None
        known = recorded.get(f"tflite-{precision}")
        if digest is None or (known is not None and known != digest):
            needed.append(precision)
        else:
            kept[precision] = digest
    return needed, kept


def space_of_names(names: Sequence[str]) -> str:
    """The space whose networks ``names`` are (iiswc-..., nb201-..., fbnet-...,
    fbnet224-...), for ``gen --networks`` without ``--space``; InputError if not one."""
    prefixes = {"iiswc": "iiswc", **{p: s for s, p in NAME_PREFIXES.items()}}
    spaces = {prefixes.get(n.partition("-")[0]) for n in names}
    if len(spaces) != 1 or None in spaces:
        raise InputError(f"--networks {','.join(names)[:100]}: name networks of one space "
                         "(iiswc-..., nb201-..., fbnet-... or fbnet224-...), or pass --space")
    return str(spaces.pop())


def catalog(space: str, count: int | None, seed: int, names: Sequence[str] | None = None
            ) -> list[tuple[NetworkSpec, Network, list[Layer]]]:
    """The networks ``gen`` makes: spec, the store's record of it and its layer table.
    Sampled networks are named by their spec id; the IISWC study's networks by their
    row, with the paper's layer encoding, exactly as ``data import-iiswc`` records them.
    ``names`` picks networks of a fixed space by name."""
    if count is not None and count < 1:
        raise InputError(f"--count must be at least 1, not {count}")
    if space in ARCH_SPACES:
        prefix = NAME_PREFIXES[space]
        wrong = [n for n in names or () if n.partition("-")[0] != prefix]
        if wrong:
            raise InputError(f"network {wrong[0][:100]!r} is not of space {space}: its "
                             f"networks are named {prefix}-...")
        archs = [arch_of_name(n) for n in dict.fromkeys(names)] if names is not None \
            else ARCH_SPACES[space](100 if count is None else count, seed)
        if names is None and count is not None and len(archs) < count:
            raise InputError(f"--count {count}: space {space} holds {len(archs)} distinct "
                             f"networks: pass at most {len(archs)}")
        return [(spec, network, layer_table(spec))
                for spec, network in arch_networks(space, archs)]
    if names is not None and space not in FIXED_SPACES:
        raise InputError(f"--networks picks networks of a fixed or NAS benchmark space "
                         f"({', '.join(FIXED_SPACES + tuple(ARCH_SPACES))}), not of {space!r}: "
                         "use --count")
    specs = sample_specs(space, None if names is not None else count, seed)
    if space in FIXED_SPACES:
        from dnncost.importers import iiswc_networks
        from dnncost.population import read_population

        records = iiswc_networks(read_population(runs=False))[:len(specs)]
        entries = [(spec, network, layers) for spec, (network, layers) in zip(specs, records)]
        if names is None:
            return entries
        by_name = {network.name: (spec, network, layers) for spec, network, layers in entries}
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise InputError(f"unknown network(s) {', '.join(unknown[:5])} of space {space}: "
                             f"use {entries[0][1].name} ... {entries[-1][1].name}")
        return [by_name[n] for n in dict.fromkeys(names)]
    entries = []
    for spec in specs:
        identity, layers = spec_id(spec), layer_table(spec)
        entries.append((spec, Network(identity, network_name(space, identity), space,
                                      {"spec": spec.to_string(), "resolution": spec.resolution},
                                      total_macs(layers), total_params(layers)), layers))
    return entries


def _register(store: Store, network: Network, layers: list[Layer], out_dir: Path,
              digests: dict[str, str]) -> None:
    files = tuple(NetworkFile(f"tflite-{p}", str(model_path(out_dir, network.id, p)), digest)
                  for p, digest in sorted(digests.items()))
    store.put_network(replace(network, files=files), layers)


def _identity(items: Iterable[T], total: int) -> Iterable[T]:
    return items


def generate(store: Store, space: str, count: int | None, seed: int,
             precisions: tuple[str, ...] = ("int8",), out_dir: str | Path = DEFAULT_OUT,
             jobs: int | None = None, progress: Callable[..., Iterable] = _identity,
             verbose: bool = False, names: Sequence[str] | None = None,
             builder: str = "direct") -> GenSummary:
    """Make ``count`` networks of ``space`` (sampled with ``seed``, or a fixed space's
    first ones; None: 100 or all; ``names``: those of a fixed space), build what is
    missing in ``jobs`` worker processes (default: all cores; ``builder``: see
    :func:`build_tflite`) and register everything."""
    if builder not in BUILDERS:
        raise InputError(f"unknown builder {builder!r}: use {' or '.join(BUILDERS)}")
    unknown = [p for p in precisions if p not in PRECISIONS]
    if unknown or not precisions:
        raise InputError(f"unknown precision {', '.join(unknown) or '(none)'}: "
                         f"use {' and/or '.join(PRECISIONS)}")
    if jobs is not None and jobs < 1:
        raise InputError(f"--jobs must be at least 1, not {jobs}")
    entries = catalog(space, count, seed, names)
    out = Path(out_dir)
    _check_writable(out)
    work = []
    for spec, network, layers in entries:
        needed, kept = _needed(store, network.id, tuple(precisions), out)
        if needed:
            work.append((spec, network, layers, tuple(needed), kept))
        else:
            _register(store, network, layers, out, kept)
    files_written = 0
    if work:
        workers = min(jobs or os.cpu_count() or 1, len(work))
        threads = max(1, (os.cpu_count() or 1) // workers)
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_init,
                                 initargs=(threads, verbose, os.getpid())) as pool:
            futures = {pool.submit(convert_job, spec.to_string(), network.id, needed, str(out),
                                   builder):
                       (network, layers, kept) for spec, network, layers, needed, kept in work}
            try:
                for future in progress(as_completed(futures), len(futures)):
                    network, layers, kept = futures[future]
                    written = future.result()
                    files_written += len(written)
                    _register(store, network, layers, out, {**kept, **written})
            except BrokenProcessPool:
                raise ToolError("a conversion worker died (out of memory or killed): "
                                "finished networks are registered; run again, maybe with "
                                "fewer --jobs") from None
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
    return GenSummary(space, len(entries), len(work), files_written, str(out))
