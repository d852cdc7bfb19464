"""`dnncost bench` in one function: pick devices and networks, run the farm, report."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from dnncost.bench import protocol
from dnncost.bench.farm import run_farm
from dnncost.bench.runner import Runner
from dnncost.bench.signature import read_signature, select, signature_file
from dnncost.bench.sweep import DeviceSummary, SweepOptions
from dnncost.errors import InputError
from dnncost.store import Store


@dataclass(frozen=True)
class BenchReport:
    """Per-device summaries; for a signature run, each finished device's (network name,
    median_ms) rows and the model directory to adapt."""

    summaries: list[DeviceSummary]
    signature_rows: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    model_dir: str | None = None

    @property
    def gone(self) -> list[DeviceSummary]:
        return [s for s in self.summaries if s.status != "ok"]


def make_runners(device: str, run: protocol.RunConfig, adb_servers: list[str],
                 benchmark_binary: str | None, local_profiles: str, seed: int,
                 reconnect_wait_s: float = 10.0) -> list[Runner]:
    """Runners for ``--device``: phones over adb, or ``local`` host profiles."""
    if device == "local":
        from dnncost.bench.local import local_runners

        return list(local_runners(local_profiles, run, seed))
    from dnncost.bench.android import AndroidRunner
    from dnncost.bench.servers import connect_clients, discover

    return [AndroidRunner(client, serial, run, benchmark_binary, reconnect_wait_s)
            for client, serial in discover(connect_clients(adb_servers), device)]


def bench(store_path: str | Path, device: str, run: protocol.RunConfig,
          options: SweepOptions, network_names: list[str] | None = None,
          adb_servers: list[str] | None = None, benchmark_binary: str | None = None,
          local_profiles: str = "t1", signature: str | None = None,
          show_progress: bool = True, reconnect_wait_s: float = 10.0,
          show_output: bool = False) -> BenchReport:
    """Measure every pending network of the store on the chosen devices."""
    with Store(store_path, create=False) as store:
        networks = store.networks(network_names)
    if signature:
        networks = select(networks, read_signature(signature), signature)
    if not networks:
        raise InputError(f"store {store_path} has no networks: run `dnncost gen` first")
    if not any(f.format == run.file_format for n in networks for f in n.files):
        raise InputError(f"no network in {store_path} has a {run.file_format} file: "
                         "generate them with that precision or pass --precision")
    if options.drift_cooldown_s is None:  # a phone needs time to cool down; this host not
        options = replace(options, drift_cooldown_s=0.0 if device == "local" else 60.0)
    runners = make_runners(device, run, adb_servers or [], benchmark_binary, local_profiles,
                           options.seed, reconnect_wait_s)
    summaries = run_farm(store_path, runners, networks, options,
                         parallel=device != "local", show_progress=show_progress,
                         show_output=show_output)
    if not signature:
        return BenchReport(summaries)
    names = {n.id: n.name for n in networks}
    rows: dict[str, list[tuple[str, float]]] = {}
    with Store(store_path, create=False) as store:
        for summary in summaries:
            if summary.status == "ok" and summary.config_hash:
                rows[summary.device_id] = sorted(
                    (names[m.network_id], m.median_ms)
                    for m in store.measurements(summary.device_id, summary.config_hash)
                    if m.ok and m.network_id in names and m.median_ms is not None)
    return BenchReport(summaries, rows, str(signature_file(signature).parent))
